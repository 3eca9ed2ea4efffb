#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: user_probe
short_description: Probe the user-facing endpoints while a procedure runs, and say how long users went unanswered
description:
  - >-
    Probes every URL of O(urls) once a round, every O(interval) seconds, until O(stop_file) appears or O(max_seconds)
    have passed. A round fails when a URL got no answer (no connection, a timeout) or an answer of 500 or more; a gap
    runs from the first failed round to the next good one. Returns the time users went without an answer, the
    longest gap and the probes unanswered or answered 5xx: what users saw, not when services were stopped.
  - >-
    Light and bounded, to run beside a procedure as an asynchronous task (C(async), C(poll 0)); the procedures
    start it before they change anything and stop it (O(stop_file)) before their report. It keeps counts and gaps,
    not every probe, and writes its summary to O(out) every few seconds and when it ends.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.tls
attributes:
  check_mode:
    support: full
    details: Read-only; it probes in check mode too.
options:
  urls:
    description: The user-facing URLs (http or https), each asked for with GET.
    type: list
    elements: str
    required: true
  interval:
    description: Seconds from one round to the next.
    type: float
    default: 0.2
  timeout:
    description: Seconds a probe waits for its answer; none in time counts as no answer.
    type: float
    default: 5.0
  max_seconds:
    description: Stop after this many seconds whatever happens.
    type: int
    default: 3600
  stop_file:
    description: Stop once this file exists.
    type: path
    required: true
  out:
    description: Where to write the summary (JSON) as it goes, for a reader that cannot wait for the task.
    type: path
  lease_file:
    description:
      - >-
        The lock file of the run the probe belongs to (runbook.rollback.lock's JSON, which names its C(run_id)). Once
        it has named O(lease_id), the probe stops when it no longer does (removed, or taken over by a later run); a
        run killed before it could stop its probe does not leave it probing.
    type: path
  lease_id:
    description: The run id O(lease_file) names while the run goes on.
    type: str
"""

EXAMPLES = r"""
- name: Probe the front door while the rollback runs
  runbook.rollback.user_probe:
    urls: ["{{ rollback_gateway_url }}/health"]
    stop_file: /var/tmp/probe/stop
  async: 3660
  poll: 0
  register: probe_job
"""

RETURN = r"""
url_count:
  description: How many URLs each round probed (not which).
  returned: always
  type: int
interval:
  description: Seconds from one round to the next.
  returned: always
  type: float
from:
  description: When the first round was made (ISO 8601, UTC), or null.
  returned: always
  type: str
to:
  description: When the last round was made (ISO 8601, UTC), or null.
  returned: always
  type: str
rounds:
  description: Rounds of probes made.
  returned: always
  type: int
probes:
  description: Probes made (rounds times URLs).
  returned: always
  type: int
unanswered:
  description: Probes that got no answer.
  returned: always
  type: int
answered_5xx:
  description: Probes answered with a status of 500 or more.
  returned: always
  type: int
without_answer_seconds:
  description: Seconds users went without a good answer, every gap summed.
  returned: always
  type: float
longest_gap_seconds:
  description: The longest gap, in seconds.
  returned: always
  type: float
gaps:
  description: The longest gaps, C({from, to, seconds, why}), at most 20.
  returned: always
  type: list
  elements: dict
ongoing:
  description: Whether the last round had failed (a gap still open when the probe stopped).
  returned: always
  type: bool
summary:
  description: The figures in one line.
  returned: always
  type: str
  sample: "users without an answer 2.3 s (longest gap 1.9 s): 12 of 600 probes unanswered, 3 answered 5xx"
"""

import contextlib
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import (
    TLS_OPTIONS,
    request,
    tls_options,
    validate_url,
)
from ansible_collections.runbook.rollback.plugins.module_utils.lock import LockError, read_lock
from ansible_collections.runbook.rollback.plugins.module_utils.userprobe import Tally, summary_line

# How often the summary is written to `out`, and the lease read, while the probe runs.
WRITE_EVERY = 2.0
LEASE_EVERY = 1.0


def lease_holder(path):
    """The run id the lock file names (runbook.rollback.lock's reader), or None (no file, not readable, not a lock)."""
    try:
        held = read_lock(path)
    except LockError:
        return None
    return held["run_id"] if held else None


def write(path, summary):
    """The summary to ``path`` through a temporary file: a reader never sees half of it."""
    if not path:
        return
    directory = os.path.dirname(path) or "."
    handle, tmp = tempfile.mkstemp(prefix=".probe-", dir=directory)
    with os.fdopen(handle, "w") as out:
        json.dump(summary, out)
    os.replace(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TLS_OPTIONS,
            urls=dict(type="list", elements="str", required=True),
            interval=dict(type="float", default=0.2),
            timeout=dict(type="float", default=5.0),
            max_seconds=dict(type="int", default=3600),
            stop_file=dict(type="path", required=True),
            out=dict(type="path"),
            lease_file=dict(type="path"),
            lease_id=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        urls = [validate_url(url) for url in p["urls"]]
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if not urls:
        module.fail_json(msg="urls must name at least one URL")
    if p["interval"] <= 0 or p["timeout"] <= 0 or p["max_seconds"] <= 0:
        module.fail_json(msg="interval, timeout and max_seconds must be more than 0")
    tls = tls_options(p)
    tally = Tally(urls, p["interval"])
    began = time.monotonic()
    due, written, leased = began, began, began
    held = False
    while not os.path.exists(p["stop_file"]) and time.monotonic() - began < p["max_seconds"]:
        now = time.monotonic()
        if p["lease_file"] and p["lease_id"] and now - leased >= LEASE_EVERY:
            leased = now
            holder = lease_holder(p["lease_file"])
            if holder == p["lease_id"]:
                held = True
            elif held:
                break  # the run that started the probe is over (or was taken over)
        if now < due:
            time.sleep(min(due - now, 0.5))
            continue
        at = time.time()
        tally.add(at, [request("GET", url, timeout=p["timeout"], tls=tls).get("status") for url in urls])
        # The next round on the interval's beat; a round that took longer starts the next one at once.
        due = max(due + p["interval"], time.monotonic())
        if p["out"] and time.monotonic() - written >= WRITE_EVERY:
            # A full disk must not end the probe: the summary is written again later, and returned at the end.
            with contextlib.suppress(OSError):
                write(p["out"], tally.summary())
            written = time.monotonic()
    summary = tally.summary(ended=time.time())
    summary["summary"] = summary_line(summary)
    try:
        write(p["out"], summary)
    except OSError as exc:
        module.warn("the summary could not be written to %s: %s" % (p["out"], exc))
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
