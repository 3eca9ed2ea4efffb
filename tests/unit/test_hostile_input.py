"""Hostile input, generated: every value a playbook takes on its command line (version, incident, service,
backup id, date, signals, message) driven with path separators, newlines, shell and Jinja syntax, Unicode
and very long strings through the checks that run before the lock, and the same text through the
renderers (Markdown report, HTML report, Slack).

Each check is compared with an independent statement of what is acceptable (a plain full-match regex): a
value passes only if that statement accepts it. The last test runs the playbooks' own input tasks in a
real ansible-playbook on a sample of the same values.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.runbook.rollback.plugins.filter.version_error import version_error
from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, check_id
from ansible_collections.runbook.rollback.plugins.module_utils.decision import DecisionInputError, normalize_signals
from ansible_collections.runbook.rollback.plugins.module_utils.notify import slack_text
from ansible_collections.runbook.rollback.plugins.module_utils.restore import DATE_RE
from ansible_collections.runbook.rollback.plugins.plugin_utils import report as rpt
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_html import render_html
from ansible_collections.runbook.rollback.plugins.test.fullmatch import fullmatch
from ansible_collections.runbook.rollback.tests.unit.report_data import A_STEPS, RECORD, timeline
from ansible_collections.runbook.rollback.tests.unit.support import REPO_ROOT, VENV_BIN, ansible_env

# What each input may be, stated independently of the code under test.
VERSION_OK = re.compile(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?")
INCIDENT = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
SERVICE = "[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
BACKUP_ID_OK = re.compile(r"[0-9]{8}T[0-9]{6}Z-[a-z_]+(-[A-Za-z0-9._-]+)?")
DATE_OK = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

HOSTILE_PARTS = [
    "/", "../", "..", "\\", "\n", "\r\n", "\x00", "\t", " ", ";", "&&", "|", "`id`", "$(id)", "${HOME}", "'", '"',
    "{{ lookup('pipe', 'id') }}", "{% raw %}", "<script>", "<!channel>", "[x](javascript:alert(1))", "--force",
    "-rf", "*", "?", "~", "^", ":", "é", "ß", "\u202e", "\u2028", "\x1e", "🚨", "\uff36", "\ufeff",
]  # fmt: skip
VALID_SEEDS = ["v1.2.3", "INC-42", "billing-service", "20261128T150000Z-manual-v1.2.3", "2026-11-28", "x"]


def hostile_text() -> st.SearchStrategy[str]:
    part = st.sampled_from(HOSTILE_PARTS) | st.text(min_size=1, max_size=8)
    return st.one_of(
        st.builds(
            lambda seed, parts, at_end: seed + "".join(parts) if at_end else "".join(parts) + seed,
            st.sampled_from(VALID_SEEDS),
            st.lists(part, min_size=1, max_size=4),
            st.booleans(),
        ),
        st.text(max_size=40),
        st.builds(lambda s, n: s * n, st.sampled_from(["a", "v1.2.3", "../", "\n"]), st.integers(100, 5000)),
    )


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(hostile_text())
@example("v1.2.3\n")
@example("v1.2.3 --force")
def test_a_version_passes_only_as_a_whole_release_tag(value):
    assert (version_error(value) == "") == bool(VERSION_OK.fullmatch(value))


@FAST
@given(hostile_text())
@example("INC-1\n")
@example("../../../tmp/x")
def test_an_incident_or_service_passes_only_as_a_plain_name(value):
    assert fullmatch(value, INCIDENT) == (re.fullmatch(INCIDENT, value, re.ASCII) is not None and "\n" not in value)
    assert fullmatch(value, SERVICE) == (re.fullmatch(SERVICE, value, re.ASCII) is not None and "\n" not in value)
    if fullmatch(value, INCIDENT):
        assert "/" not in value and ".." != value and not value.startswith(".")


@FAST
@given(hostile_text())
@example("20261128T150000Z-manual\n")
def test_a_backup_id_and_a_date_pass_only_whole(value):
    try:
        check_id(value)
        accepted = True
    except BackupError as exc:
        accepted = False
        assert "\n" not in str(exc).replace("\\n", "")
    assert accepted == bool(BACKUP_ID_OK.fullmatch(value))
    assert bool(DATE_RE.fullmatch(value)) == bool(DATE_OK.fullmatch(value))


@FAST
@given(hostile_text())
def test_an_unknown_signal_is_refused_by_name(value):
    try:
        normalize_signals({value: True})
    except DecisionInputError as exc:
        assert "unknown signal" in str(exc)
    else:
        assert value in ("login_broken", "payment_failing", "chat_broken") or value.isidentifier()


@FAST
@given(hostile_text())
def test_the_renderers_show_hostile_text_as_text(value):
    record = dict(RECORD, result="failed", reason=value, to_version=value, incident="INC-1")
    report = rpt.build_report(record, timeline(*A_STEPS, status="failed"))
    markdown = rpt.render_markdown(report)
    for line in markdown.splitlines():
        if line.startswith("| Result |"):
            # One line, one row: nothing in the reason starts a new line or closes the cell.
            assert line.count(" | ") == 1 and line.endswith(" |")
    assert "<script>" not in markdown and "<!channel>" not in markdown
    assert "](javascript:" not in markdown.replace("\\]", "")
    html = render_html(report)
    assert "<script" not in html.lower().replace("&lt;script", "")
    slack = slack_text(value)
    assert "<" not in slack and ">" not in slack


PLAY = """
- name: Push each value through the playbooks' own input checks, as the procedures run them
  hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: The release and the incident, as preflight checks them before the lock
      ansible.builtin.include_tasks: check.yml
      loop: "{{ values }}"
      loop_control:
        loop_var: value
"""
CHECK = """
- name: Check one value
  block:
    - name: Preflight's input checks
      ansible.builtin.include_role:
        name: runbook.rollback.preflight
        tasks_from: inputs
      vars:
        preflight_version: "{{ value.version }}"
        incident: "{{ value.incident }}"
        rollback_action: rollback
    - name: Accepted
      ansible.builtin.debug:
        msg: "ACCEPTED {{ value.n }}"
  rescue:
    - name: Refused
      ansible.builtin.debug:
        msg: "REFUSED {{ value.n }}"
"""


@pytest.mark.functional
def test_the_playbooks_refuse_hostile_values_before_the_lock(tmp_path):
    # Every hostile part after a good version (with a good incident) and before a good incident (with no
    # version: Procedure A's last known good).
    values = []
    for part in HOSTILE_PARTS:
        for version, incident in ((f"v1.2.3{part}", "INC-1"), ("", f"{part}INC-1")):
            values.append({"n": len(values), "version": version, "incident": incident})
    values.append({"n": len(values), "version": "v1.2.3", "incident": "INC-1"})
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "check.yml").write_text(CHECK)
    # Marked !unsafe, as AWX writes survey answers: values, never templates.
    extra = tmp_path / "values.yml"

    def unsafe(text: str) -> str:
        quoted = yaml.safe_dump(text, default_style='"', width=10**6).strip()
        return "!unsafe " + quoted.removesuffix("...").strip()

    rows = [f"  - {{n: {v['n']}, version: {unsafe(v['version'])}, incident: {unsafe(v['incident'])}}}\n"
            for v in values]
    extra.write_text("values:\n" + "".join(rows))
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(tmp_path / "play.yml"),
                           "-e", "@" + str(extra)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"), check=False)  # fmt: skip
    verdicts = {int(n): v for v, n in re.findall(r'"msg": "(ACCEPTED|REFUSED) (\d+)"', proc.stdout)}
    assert len(verdicts) == len(values), proc.stdout[-3000:]
    for value in values:
        incident_ok = value["incident"] == "" or fullmatch(value["incident"], INCIDENT)
        expected_ok = (value["version"] == "" or bool(VERSION_OK.fullmatch(value["version"]))) and incident_ok
        assert verdicts[value["n"]] == ("ACCEPTED" if expected_ok else "REFUSED"), value
    assert verdicts[len(values) - 1] == "ACCEPTED"
    assert "uid=" not in proc.stdout, "a Jinja or shell payload ran"
