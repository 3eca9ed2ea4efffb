"""Procedure D's evidence (module_utils/evidence.py): no secret in it, logs bounded, a full disk never fatal."""

from __future__ import annotations

import json
import sys

from ansible_collections.runbook.rollback.plugins.module_utils.evidence import (
    REDACTED,
    Capture,
    redact_environment,
)


def test_every_environment_value_is_redacted_but_the_harmless_ones_names_kept():
    env = ["POSTGRES_PASSWORD=s3cret", "PATH=/usr/bin", "EMPTY=", "NOEQUALS", "DSN=postgres://u:pw@db/x=y"]
    inspected = [
        {"Id": "a", "Config": {"Env": env}},
        {"Id": "b", "Config": {"Env": None}},
        {"Id": "c"},
    ]
    out = redact_environment(inspected)
    assert out[0]["Config"]["Env"] == [
        f"POSTGRES_PASSWORD={REDACTED}", "PATH=/usr/bin", f"EMPTY={REDACTED}", "NOEQUALS", f"DSN={REDACTED}"
    ]
    assert "s3cret" not in json.dumps(out) and "pw@" not in json.dumps(out)
    assert out[1]["Config"]["Env"] is None and "Config" not in out[2]


def test_the_keep_list_is_the_callers():
    out = redact_environment([{"Config": {"Env": ["APP_VERSION=v1", "PATH=/bin"]}}], keep=("APP_VERSION",))
    assert out[0]["Config"]["Env"] == ["APP_VERSION=v1", f"PATH={REDACTED}"]


def test_only_the_newest_bytes_of_a_flooding_log_are_kept(tmp_path):
    cap = Capture(str(tmp_path), timeout=30, log_max_bytes=100_000)
    # Four megabytes as fast as the process can write them, the last line marked: the limit's worth of
    # the newest bytes reaches the disk.
    script = "import sys\nfor _ in range(4096): sys.stdout.write('x' * 1023 + '\\n')\nprint('the last line')"
    cap.stream("logs/noisy.log", [sys.executable, "-c", script], "logs of noisy")
    data = (tmp_path / "logs" / "noisy.log").read_bytes()
    assert len(data) == 100_000 and data.endswith(b"the last line\n")
    (entry,) = cap.files
    assert (entry["size"], entry["truncated"]) == (100_000, True)
    assert cap.problems == [
        "logs of noisy: only the last 100000 of 4194318 bytes read are kept (limit 100000 bytes, 30 s)"]
    assert oct((tmp_path / "logs" / "noisy.log").stat().st_mode & 0o777) == "0o640"


def test_a_whole_log_under_the_limit_is_kept_with_both_streams(tmp_path):
    cap = Capture(str(tmp_path), timeout=30, log_max_bytes=1_000_000)
    argv = [sys.executable, "-c", "import sys; print('out'); sys.stdout.flush(); print('err', file=sys.stderr)"]
    cap.stream("logs/quiet.log", argv, "logs of quiet")
    assert (tmp_path / "logs" / "quiet.log").read_text().split() == ["out", "err"]
    assert cap.problems == [] and cap.files[0]["truncated"] is False


def test_a_file_that_cannot_be_written_is_a_problem_not_an_end(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the evidence directory should be")
    cap = Capture(str(blocked / "evidence"), timeout=5)
    assert cap.write("version.json", b"{}", "the deployed version") is False
    cap.stream("logs/x.log", [sys.executable, "-c", "print(1)"], "logs of x")
    assert len(cap.problems) == 3 and all("Not a directory" in p for p in cap.problems), cap.problems
    assert cap.files == []
