"""The pure parts of reconciling a restore (module_utils/reconcile.py): COPY text fields, CSV lines, missing rows.

Covered: decode_field (NULL, plain text, every backslash escape, octal and hex bytes, an unknown escape, a
trailing backslash, the text "\\N" apart from NULL), csv_line (every value quoted, inner quotes doubled, NULL as
an empty unquoted field apart from the empty string, line breaks kept inside quotes, read back by Python's csv
module), and missing_rows (compared on the shared columns only, duplicates one for one, kept order, nothing
restored), with a hypothesis property: the rows found missing are exactly the multiset difference. Streaming
the rows out of PostgreSQL is covered by the integration tests.
"""

import collections
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.runbook.rollback.plugins.module_utils.reconcile import (
    csv_line,
    decode_field,
    insert_sql,
    missing_rows,
    parents_first,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("\\N", None, id="null"),
        pytest.param("plain text", "plain text", id="plain"),
        pytest.param("", "", id="empty"),
        pytest.param("\\b", "\b", id="backspace"),
        pytest.param("\\f", "\f", id="form-feed"),
        pytest.param("\\n", "\n", id="newline"),
        pytest.param("\\r", "\r", id="carriage-return"),
        pytest.param("\\t", "\t", id="tab"),
        pytest.param("\\v", "\v", id="vertical-tab"),
        pytest.param("\\\\", "\\", id="backslash"),
        pytest.param("line one\\nline two\\tend", "line one\nline two\tend", id="escapes-inside-text"),
        pytest.param("\\101", "A", id="octal"),
        pytest.param("\\0", "\x00", id="octal-one-digit"),
        pytest.param("\\1011", "A1", id="octal-at-most-three-digits"),
        pytest.param("\\18", "\x018", id="octal-stops-at-8"),
        pytest.param("\\x41", "A", id="hex"),
        pytest.param("\\x4", "\x04", id="hex-one-digit"),
        pytest.param("\\x414", "A4", id="hex-at-most-two-digits"),
        pytest.param("\\x6a", "j", id="hex-lowercase"),
        pytest.param("\\xg", "xg", id="x-without-hex-digit"),
        pytest.param("\\q", "q", id="unknown-escape"),
        pytest.param("ends with \\", "ends with \\", id="trailing-backslash"),
        pytest.param("\\", "\\", id="lone-backslash"),
        pytest.param("\\\\N", "\\N", id="text-backslash-N-is-not-null"),
        pytest.param("a\\N", "aN", id="backslash-N-inside-a-value"),
        pytest.param("\\\\n", "\\n", id="escaped-backslash-then-n"),
    ],
)
def test_decode_field(raw, expected):
    assert decode_field(raw) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(["1", "alice"], '"1","alice"\n', id="plain"),
        pytest.param(['say "hi"'], '"say ""hi"""\n', id="inner-quotes-doubled"),
        pytest.param(['"'], '""""\n', id="only-a-quote"),
        pytest.param([None, "x", None], ',"x",\n', id="null-unquoted"),
        pytest.param(["", None], '"",\n', id="empty-string-apart-from-null"),
        pytest.param(["line one\nline two"], '"line one\nline two"\n', id="newline-inside-quotes"),
        pytest.param(["a,b"], '"a,b"\n', id="comma-inside-quotes"),
        pytest.param(["back\\slash"], '"back\\slash"\n', id="backslash-as-is"),
        pytest.param([None], "\n", id="lone-null"),
    ],
)
def test_csv_line(values, expected):
    assert csv_line(values) == expected


def read_back(line):
    rows = list(csv.reader(io.StringIO(line, newline="")))
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(["1", "alice", "alice@example.com"], id="plain"),
        pytest.param(['say "hi", then "bye"', ""], id="quotes-and-empty"),
        pytest.param(["first\nsecond", "cr\r\nlf", None], id="line-breaks-and-null"),
        pytest.param([None, None], id="only-nulls"),
    ],
)
def test_csv_line_reads_back(values):
    assert read_back(csv_line(values)) == ["" if v is None else v for v in values]


CSV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), CSV_TEXT), min_size=2, max_size=6))
def test_csv_line_reads_back_anything(values):
    assert read_back(csv_line(values)) == ["" if v is None else v for v in values]


SHARED = ["id", "name"]


def test_missing_rows():
    kept = [["1", "alice"], ["2", "bob"], ["3", "carol"]]
    restored = [["1", "alice"], ["3", "carol"]]
    assert list(missing_rows(kept, restored, SHARED)) == [["2", "bob"]]


def test_missing_rows_compare_the_shared_columns_only():
    kept = [["1", "alice", "kept-only"], ["2", "bob", "kept-only"]]
    restored = [["1", "alice"], ["2", "robert"]]
    assert list(missing_rows(kept, restored, SHARED)) == [["2", "bob", "kept-only"]]


def test_missing_rows_tell_null_from_empty_and_from_the_text_backslash_n():
    kept = [["1", "\\N"], ["2", ""], ["3", "\\\\N"]]
    restored = [["1", ""], ["2", "\\N"], ["3", "\\N"]]
    assert list(missing_rows(kept, restored, SHARED)) == kept


def test_missing_rows_need_every_shared_field_to_match():
    kept = [["1", "alice"], ["1", "bob"], ["2", "alice"]]
    restored = [["1", "alice"]]
    assert list(missing_rows(kept, restored, SHARED)) == [["1", "bob"], ["2", "alice"]]


@pytest.mark.parametrize(
    ("kept_copies", "restored_copies", "missing_copies"),
    [
        pytest.param(3, 1, 2, id="three-kept-one-restored"),
        pytest.param(2, 2, 0, id="as-many"),
        pytest.param(1, 3, 0, id="more-restored"),
        pytest.param(2, 0, 2, id="none-restored"),
    ],
)
def test_missing_rows_count_duplicates_one_for_one(kept_copies, restored_copies, missing_copies):
    row = ["7", "same"]
    missing = list(missing_rows([row] * kept_copies, [row] * restored_copies, SHARED))
    assert missing == [row] * missing_copies


def test_missing_rows_keep_the_order_of_the_kept_rows():
    kept = [["9", "z"], ["1", "a"], ["5", "m"], ["3", "c"], ["7", "q"]]
    restored = [["5", "m"], ["1", "a"]]
    assert list(missing_rows(kept, restored, SHARED)) == [["9", "z"], ["3", "c"], ["7", "q"]]


@pytest.mark.parametrize("shared", [pytest.param(SHARED, id="shared-columns"), pytest.param([], id="no-shared-column")])
def test_missing_rows_with_nothing_restored_are_every_kept_row(shared):
    kept = [["2", "bob", "x"], ["1", "alice", "y"], ["2", "bob", "x"]]
    assert list(missing_rows(kept, [], shared)) == kept


def test_missing_rows_stream_their_input():
    kept = (row for row in [["1", "alice"], ["2", "bob"]])
    restored = (row for row in [["2", "bob"]])
    assert list(missing_rows(kept, restored, SHARED)) == [["1", "alice"]]


# COPY's text format escapes tabs, so a raw field never holds one.
FIELD = st.text(alphabet="ab\\N ", max_size=2)
ROWS = st.lists(st.tuples(FIELD, FIELD), max_size=12)


def is_subsequence(part, whole):
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


@settings(max_examples=300, deadline=None)
@given(kept=ROWS, restored=ROWS)
def test_missing_rows_are_the_multiset_difference(kept, restored):
    missing = list(missing_rows(kept, restored, SHARED))
    difference = collections.Counter(kept) - collections.Counter(restored)
    assert len(missing) == sum(difference.values())
    assert collections.Counter(missing) == difference
    assert is_subsequence(missing, kept)


@settings(max_examples=200, deadline=None)
@given(kept=st.lists(st.tuples(FIELD, FIELD, FIELD), max_size=12), restored=ROWS)
def test_missing_rows_ignore_kept_only_columns(kept, restored):
    missing = list(missing_rows(kept, restored, SHARED))
    difference = collections.Counter(row[:2] for row in kept) - collections.Counter(restored)
    assert len(missing) == sum(difference.values())
    assert collections.Counter(row[:2] for row in missing) == difference


def test_tables_are_loaded_back_parents_first():
    fks = {"messages": {"chat_id": "chats", "user_id": "users"}, "chats": {"user_id": "users"}}
    assert parents_first(["messages", "subscriptions", "chats", "users"], fks) == [
        "subscriptions", "users", "chats", "messages"]  # fmt: skip
    # A cycle keeps the given order instead of looping.
    assert parents_first(["a", "b"], {"a": {"b_id": "b"}, "b": {"a_id": "a"}}) == ["a", "b"]


def test_a_missing_row_gets_a_new_key_and_its_foreign_keys_follow_their_rows():
    types = {"id": "integer", "chat_id": "integer", "body": "text", "sent_at": "timestamp with time zone"}
    sql = insert_sql("messages", ["id", "chat_id", "body", "sent_at"], ["7", "3", "it's", None], types, "id",
                     {"chat_id": "chats"}, {"chats"})  # fmt: skip
    assert sql == (
        'WITH ins AS (INSERT INTO "messages" ("chat_id", "body", "sent_at") VALUES ('
        "CAST(coalesce((SELECT new_id FROM pg_temp.reconcile_ids WHERE tbl = 'chats' AND old_id = '3'), '3') "
        "AS integer), CAST('it''s' AS text), NULL) RETURNING \"id\") "
        "INSERT INTO pg_temp.reconcile_ids SELECT 'messages', '7', ins.\"id\"::text FROM ins;\n"
    )
    # A foreign key to a table none of whose rows was missing keeps its value; no generated key: inserted as is.
    plain = insert_sql("subscriptions", ["user_id", "plan"], ["5", "pro"], {"user_id": "integer", "plan": "text"},
                       None, {"user_id": "users"}, set())  # fmt: skip
    assert plain == (
        "INSERT INTO \"subscriptions\" (\"user_id\", \"plan\") VALUES (CAST('5' AS integer), CAST('pro' AS text));\n"
    )
