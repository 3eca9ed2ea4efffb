"""The run record (plugin_utils/run_record.py): one dictionary per run, written by the steps, read by the report."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.filter.run_record import run_record
from ansible_collections.runbook.rollback.plugins.plugin_utils.run_record import (
    FIELDS,
    RunRecordError,
    new_record,
    update,
)


def test_a_fresh_record_holds_every_field_at_its_default():
    record = new_record(incident="INC-7", procedure="A")
    assert set(record) == set(FIELDS)
    assert record["incident"] == "INC-7"
    assert record["changes_started"] is False and record["lock_held"] is False
    assert record["backups"] == [] and record["verification"] is None and record["failure"] == ""


def test_an_update_is_a_copy_and_the_release_is_merged_key_by_key():
    record = new_record(release={"from": "v1.2.4"})
    later = update(record, {"release": {"to": "v1.2.3"}, "lock_held": True})
    assert later["release"]["from"] == "v1.2.4" and later["release"]["to"] == "v1.2.3"
    assert record["lock_held"] is False and record["release"]["to"] is None


def test_an_update_never_changes_the_record_it_was_given_nor_what_it_shares_with_it():
    record = update(new_record(), {"verification": {"passed": False}}, append={"notifications": [{"ok": 1}]})
    before = repr(record)
    later = update(record, {"release": {"to": "v1"}, "samples": [1]}, append={"notifications": [{"ok": 2}]})
    later = update(later, append={"notifications": {"ok": 3}, "kept_databases": ["x"]})
    assert repr(record) == before
    assert [n["ok"] for n in later["notifications"]] == [1, 2, 3] and later["verification"] is record["verification"]


def test_lists_are_appended_to_and_backups_and_kept_databases_without_duplicates():
    backup = {"role": "emergency backup", "id": "b1"}
    record = update(new_record(), append={"backups": [backup]})
    record = update(record, append={"backups": [backup, {"role": "restored", "id": "b0"}], "kept_databases": "app_old"})
    assert [b["id"] for b in record["backups"]] == ["b1", "b0"]
    assert record["kept_databases"] == ["app_old"]
    sent = {"channel": "slack", "event": "progress", "ok": True}
    twice = update(update(record, append={"notifications": [sent]}), append={"notifications": [sent]})
    assert twice["notifications"] == [sent, sent]


@pytest.mark.parametrize(
    ("changes", "append", "words"),
    [
        ({"lock_hold": True}, None, "has no field 'lock_hold'"),
        ({"lock_held": "yes"}, None, "lock_held must be true or false"),
        ({"release": {"form": "v1"}}, None, "release has no field form"),
        ({"incident": 7}, None, "incident must be a string"),
        (None, {"failure": ["x"]}, "only a list takes append="),
    ],
)
def test_a_misspelt_field_or_a_wrong_kind_is_refused(changes, append, words):
    with pytest.raises(RunRecordError, match=words):
        update(new_record(), changes, append)


def test_an_empty_record_stands_for_a_fresh_one():
    assert update({}, {"service": "worker"}) == new_record(service="worker")
    assert update(None, None) == new_record()


def test_a_backup_goes_into_the_record_as_its_entry_once():
    backup = {"id": "20261202T101500Z-v1.2.3", "path": "/var/backups/x.dump", "created_at": "2026-12-02T10:15:00Z",
              "rows": {"users": 3}}  # fmt: skip
    record = run_record({}, backup=backup, backup_role="restored")
    record = run_record(record, backup=backup, backup_role="restored")
    assert record["backups"] == [{"role": "restored", "id": backup["id"], "path": backup["path"],
                                  "at": "2026-12-02T10:15:00Z"}]  # fmt: skip
    with pytest.raises(AnsibleFilterError, match="a backup must be a dictionary with an id"):
        run_record({}, backup={"path": "/x"})
