#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: notify
short_description: Tell the team about a rollback event on Slack, Statuspage, PagerDuty and a webhook
description:
  - >-
    Sends one rollback event (C(started), C(completed), C(stable), C(failed), C(shutdown) or C(escalation)) to every
    configured channel, and escalates on its own when the event calls for it: an extra C(escalation) to the
    level's channels and contacts (O(escalation_levels)) when the level the event calls for is 2 or more and
    above the level this incident already reached.
  - >-
    The runbook's escalation levels: 2 (DevOps lead) when the rollback failed or fell back to an older release
    or data integrity is at risk; 3 (engineering manager) when the service has been down more than an hour;
    4 (leadership) past four hours.
  - >-
    Runs on the controller (an action plugin), where the channels' URLs and keys are and where their endpoints
    are reached from; the channels are called at the same time, each with O(timeout). The incident's state is
    kept on the target, in O(incidents_dir)C(/<incident>/): C(notify.json) (when the incident started, the
    highest level an escalation reached; no URL or key) and C(statuspage.json) (the status page incident's
    id, so that later events update it).
  - >-
    Never fails because of a channel: a bad input, an endpoint that answers an error or does not answer, and a
    state file that cannot be written are each reported in RV(notifications). Only a wrong option type
    fails the task.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
  - runbook.rollback.tls
attributes:
  become:
    support: full
    details: Applies to the state files on the target, not to the HTTP calls.
  connection:
    support: full
    details: The state files are read and written on the target; the channels are called from the controller.
  delegation:
    support: full
  check_mode:
    support: full
    details: Nothing is sent or written; RV(notifications) lists what would have been sent, as not sent.
  diff_mode:
    support: none
  platform:
    platforms: posix
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
options:
  event:
    description:
      - The event.
      - C(started) also begins the progress updates (O(progress_minutes)), which C(completed), C(failed) and
        C(shutdown) end before they are told. C(progress) is what those updates send; a task rarely sends it.
      - C(stable) tells that the stability watch after a C(completed) rollback ended well, and resolves the
        incident; a watch that failed is told as C(failed).
    type: str
    required: true
    choices: [started, progress, completed, stable, failed, shutdown, escalation]
  incident:
    description:
      - The incident the event belongs to. It names the status page incident, the PagerDuty alert
        (C(runbook-rollback-<incident>)) and the state directory; anything but letters, digits, dot, dash and
        underscore is replaced by a dash. Empty is C(unnamed).
    type: str
    default: ""
  text:
    description: >-
      Free text for Slack, PagerDuty and the webhook (the reason of a shutdown, what failed); not for the status
      page.
    type: str
    default: ""
  public_message:
    description: What the public status page says instead of the built-in sentence for the event.
    type: str
    default: ""
  project:
    description: The stack's name, in the headline and on the status page.
    type: str
    default: ""
  host:
    description: The host the rollback ran on.
    type: str
    default: ""
  procedure:
    description: The runbook procedure's letter.
    type: str
    default: ""
  from_version:
    description: The release rolled back from.
    type: str
    default: ""
  to_version:
    description: The release rolled back to.
    type: str
    default: ""
  run_id:
    description: The run's id.
    type: str
    default: ""
  lead:
    description: Who leads the rollback.
    type: str
    default: ""
  budgets:
    description: Minutes each procedure may take, by letter; the ETA of a C(started) event.
    type: dict
    default: {}
  state_line:
    description: Which service runs which release, after a failure.
    type: str
    default: ""
  verification:
    description: The verification result of a C(completed) event.
    type: str
    default: ""
  duration_seconds:
    description: How long the rollback took, for a C(completed) event (a number of seconds, or empty).
    type: raw
  postmortem:
    description: When the post-mortem is, said by a C(completed) event ("Post-mortem scheduled for ...").
    type: str
    default: ""
  watch_seconds:
    description:
      - For a C(completed) event, how long the stability watch that follows it lasts, in seconds; the status page
        incident then stays C(monitoring) until a C(stable) event resolves it. 0 means no watch follows, and the
        completion resolves the incident.
      - For a C(stable) event, how long the watch lasted.
    type: raw
    default: 0
  progress_minutes:
    description:
      - For a C(started) event, send a progress update every this many minutes until the rollback's end is told
        (the runbook's 15); 0 sends none.
      - The updates say how long the rollback has run, the runbook step it is in (from the timeline callback) and a
        revised ETA from the steps' estimates; they go to Slack, the status page and the webhook, never PagerDuty.
      - A small process on the controller, beside ansible-playbook, sends them, so they come during one long task
        too; it receives the channels' settings through a pipe and ends with the playbook.
    type: raw
    default: 0
  signals:
    description:
      - The conditions reported about the incident, as names of M(runbook.rollback.rollback_decision)'s signals. A
        security breach or a major loss of data escalates to level 4, customer data at risk to level 3.
    type: raw
    default: []
  max_downtime_minutes:
    description:
      - The decision matrix's maximum downtime for the incident's priority; an interruption longer than it
        escalates to level 2. Empty is not checked.
    type: raw
  escalate:
    description: Escalate on its own when the event calls for level 2 or more, above the level this incident reached.
    type: bool
    default: true
  escalation_level:
    description: The level of an C(escalation) event, 1 to 4; 0 works it out from the event's facts.
    type: raw
    default: 0
  escalation_reason:
    description: Why the escalation; empty names the rules that hold.
    type: str
    default: ""
  escalated_level:
    description: The highest level reached earlier in this play (the incident's C(notify.json) counts too).
    type: raw
    default: 1
  escalation_levels:
    description:
      - The escalation levels, each C({level, name, contacts, channels}). An escalation goes to its level's
        channels (all configured ones when it names none) and names its contacts.
    type: list
    elements: raw
    default: []
  fell_back:
    description: The rollback fell back to an older release (level 2).
    type: raw
    default: false
  data_at_risk:
    description: Data integrity is at risk (level 2).
    type: raw
    default: false
  downtime_seconds:
    description:
      - How long the service has been down, in seconds. Empty counts from the incident's start for C(started),
        C(failed), C(shutdown) and C(escalation), and is 0 for C(completed).
    type: raw
  incident_started_at:
    description: When the incident started (ISO 8601; no offset means UTC), if earlier than its first notification.
    type: str
    default: ""
  channels:
    description: The channels this event may use; each is still off without its settings.
    type: list
    elements: str
    default: [slack, statuspage, pagerduty, webhook]
  slack:
    description:
      - The Slack incoming webhook, C({webhook_url, channel}). Not given, the variable C(rollback_notify_slack)
        is read, so that no task has to name a secret.
    type: dict
  statuspage:
    description:
      - The Statuspage page, C({page_id, api_key, api_url, components}). Not given, C(rollback_notify_statuspage).
    type: dict
  pagerduty:
    description: PagerDuty Events API v2, C({routing_key, events_url}). Not given, C(rollback_notify_pagerduty).
    type: dict
  webhook:
    description: A JSON webhook, C({url, headers}). Not given, C(rollback_notify_webhook).
    type: dict
  statuspage_component_states:
    description: The status page component status per event; a C(completed) event always sets them operational.
    type: dict
    default: {}
  incidents_dir:
    description: The directory, on the target, of each incident's state.
    type: path
    required: true
  timeout:
    description: Seconds to wait for each channel's answer.
    type: float
    default: 5.0
"""

EXAMPLES = r"""
- name: Tell the team a rollback started (channels from rollback_notify_*)
  runbook.rollback.notify:
    event: started
    incident: INC-1
    procedure: A
    from_version: v1.2.4
    to_version: v1.2.3
    project: shop
    budgets: {A: 10, B: 20, C: 5, D: 1}
    incidents_dir: /var/lib/runbook-rollback/incidents
  register: told

- name: Say what each channel was sent
  ansible.builtin.debug:
    msg: "{{ told.notifications | map('runbook.rollback.notify_line') }}"
"""

RETURN = r"""
notifications:
  description: One entry per call, C({channel, event, ok, status, error, at}), without URL or key.
  returned: always
  type: list
  elements: dict
escalated_level:
  description: The highest level this incident reached, this event included.
  returned: when a channel is configured
  type: int
started_epoch:
  description: When a C(started) event was sent, in seconds since the epoch (for a later event's duration).
  returned: when event is started
  type: float
level:
  description: The level the event calls for, C({level, name, reasons}).
  returned: success
  type: dict
configured:
  description: The channels that are on.
  returned: success
  type: list
  elements: str
incident:
  description: The incident id as used in names and paths.
  returned: success
  type: str
context:
  description: What the event says, as every channel's body is built from it (no URL or key).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.notify import ARGUMENT_SPEC


def main():
    # The action plugin of the same name runs instead, on the controller. Run as a module on a host, it only
    # checks its options and says where it belongs.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="runbook.rollback.notify runs on the controller as an action plugin; call it from a task")


if __name__ == "__main__":
    main()
