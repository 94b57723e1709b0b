"""Ingest: validated, all-or-nothing import of CSV (also gzip) and Parquet (DESIGN.md §3, §5)."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentation.ingest import files as ingest_module
from segmentation.ingest import read as ingest_read
from segmentation.data import store
from segmentation.errors import InputError, NotFoundError
from segmentation.ingest.columns import parse_assignments
from segmentation.ingest.files import ingest_file
from segmentation.data.queries import QUERIES_DIR

NOW = datetime(2024, 6, 1, 12, 0)
TABLES = ("events", "customers", "ingests", "rejects")

GOOD_EVENTS = (
    "customer_id,ts,event_type,channel,category,amount,quantity\n"
    "0001,2024-01-02 10:00:00,view,web,shoes,,\n"
    "0001,2024-01-02 10:05:00,purchase,web,shoes,59.90,1\n"
    "0002,2024-01-03,cart,app,bags,0,2\n"
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(con) -> dict[str, int]:
    return {table: store.table_count(con, table) for table in TABLES}


@pytest.fixture
def con(db_file):
    with store.connect(db_file) as connection:
        yield connection


@pytest.fixture
def seeded(con, tmp_path):
    """A database that already holds one events import, one customers import and one reject."""
    ingest_file(con, write(tmp_path, "seed.csv", GOOD_EVENTS + "0003,not a date,view,web,,,\n"),
                quarantine=True, now=NOW)
    ingest_file(con, write(tmp_path, "seed_customers.csv", "customer_id,country\n0001,DE\n"),
                kind="customers", now=NOW)
    assert counts(con) == {"events": 3, "customers": 1, "ingests": 2, "rejects": 1}
    return con


# --------------------------------------------------------------------------- happy paths

def test_foreign_column_names_mapping_constants_and_ts_format(con, tmp_path):
    path = write(tmp_path, "shop export.csv",
                 "Kundennummer;Datum;Betrag;Menge;Warengruppe;Unused\n"
                 "000123;20240105;12.50;2;Schuhe;x\n"
                 "000123;20240106;7;1;Taschen;y\n"
                 "42;20240107;;;;z\n")
    result = ingest_file(
        con, path,
        mapping={"customer_id": "Kundennummer", "ts": "Datum", "amount": "Betrag",
                 "quantity": "menge", "category": "Warengruppe"},  # source matched ignoring case
        constants={"event_type": "purchase", "channel": "Store"},
        ts_format="%Y%m%d", now=NOW)
    assert (result.n_rows, result.n_rejected, result.kind, result.ingest_id) == (3, 0, "events", 1)
    rows = con.execute("SELECT customer_id, ts, event_type, channel, category, amount, quantity, "
                       "ingest_id FROM events ORDER BY ts").fetchall()
    assert rows == [
        ("000123", datetime(2024, 1, 5), "purchase", "store", "Schuhe", 12.5, 2.0, 1),
        ("000123", datetime(2024, 1, 6), "purchase", "store", "Taschen", 7.0, 1.0, 1),
        ("42", datetime(2024, 1, 7), "purchase", "store", None, 0.0, None, 1),
    ]
    created_at, kind, file, fingerprint, n_rows, options = con.execute(
        "SELECT created_at, kind, file, fingerprint, n_rows, options FROM ingests").fetchone()
    assert (created_at, kind, n_rows) == (NOW, "events", 3)
    assert file == str(path.resolve()) and len(fingerprint) == 64
    options = json.loads(options)
    assert options["mapping"]["customer_id"] == "Kundennummer"
    assert options["constants"] == {"event_type": "purchase", "channel": "Store"}
    assert options["delimiter"] == ";" and options["ts_format"] == "%Y%m%d"
    document = json.loads(json.dumps(result.to_dict()))
    assert document["n_rows"] == 3 and document["file"] == str(path)


def test_iso_dates_and_datetimes_mixed_offsets_converted_to_utc(con, tmp_path):
    path = write(tmp_path, "iso.csv",
                 "customer_id,ts,event_type\n"
                 "1,2024-01-02,view\n"
                 "1,2024-01-02 10:30:00,view\n"
                 "1,2024-01-02T10:30:00.250,view\n"
                 "1,2024-01-02T10:30:00Z,view\n"
                 "1,2024-01-02T10:30:00+02:00,view\n"
                 "1, 2024-01-03 ,view\n")
    assert ingest_file(con, path, now=NOW).n_rows == 6
    stamps = [r[0] for r in con.execute("SELECT ts FROM events").fetchall()]
    assert stamps == [datetime(2024, 1, 2), datetime(2024, 1, 2, 10, 30),
                      datetime(2024, 1, 2, 10, 30, 0, 250000), datetime(2024, 1, 2, 10, 30),
                      datetime(2024, 1, 2, 8, 30), datetime(2024, 1, 3)]


def test_gzip_csv(con, tmp_path):
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress(GOOD_EVENTS.encode()))
    result = ingest_file(con, path, now=NOW)
    assert result.n_rows == 3
    assert con.execute("SELECT sum(amount), count(DISTINCT customer_id) FROM events").fetchone() \
        == (59.9, 2)


def test_parquet_with_typed_columns(con, tmp_path):
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({
        "id": ["007", "007", "010"],
        "when": pa.array([datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 9), datetime(2024, 2, 1)],
                         type=pa.timestamp("us")),
        "event_type": ["Purchase", "Purchase", "refund"],
        "amount": [19.99, 19.99, -5.0],
        "quantity": pa.array([1, 1, None], type=pa.int64()),
    }), path)
    result = ingest_file(con, path, mapping={"customer_id": "id", "ts": "when"}, now=NOW)
    assert result.n_rows == 3
    assert con.execute("SELECT customer_id, ts, event_type, amount, quantity FROM events "
                       "ORDER BY ts, amount").fetchall() == [
        ("007", datetime(2024, 1, 1, 9), "purchase", 19.99, 1.0),
        ("007", datetime(2024, 1, 1, 9), "purchase", 19.99, 1.0),
        ("010", datetime(2024, 2, 1), "refund", -5.0, None),
    ]


def test_same_day_repeated_rows_are_kept(con, tmp_path):
    path = write(tmp_path, "daily.csv", "customer_id,ts,event_type,amount\n"
                 + "5,2024-03-01,purchase,10\n" * 3 + "5,2024-03-02,purchase,10\n")
    assert ingest_file(con, path, now=NOW).n_rows == 4
    assert con.execute("SELECT count(*) FROM events WHERE ts = DATE '2024-03-01'").fetchone() == (3,)


def test_leading_zeros_and_whitespace_in_ids(con, tmp_path):
    path = write(tmp_path, "ids.csv", "customer_id,ts,event_type\n"
                 "00042,2024-01-01,view\n 0007 ,2024-01-01,view\n000,2024-01-01,view\n")
    ingest_file(con, path, now=NOW)
    ids = sorted(r[0] for r in con.execute("SELECT customer_id FROM events").fetchall())
    assert ids == ["000", "00042", "0007"]


def test_column_names_match_ignoring_case_spaces_and_hyphens(con, tmp_path):
    path = write(tmp_path, "names.csv", "\ufeffCustomer ID,TS,Event-Type\r\n9,2024-01-01,VIEW\r\n")
    assert ingest_file(con, path, now=NOW).n_rows == 1
    assert con.execute("SELECT customer_id, event_type FROM events").fetchall() == [("9", "view")]


def test_unknown_event_types_and_channels_become_other_with_counted_warning(con, tmp_path):
    path = write(tmp_path, "mix.csv", "customer_id,ts,event_type,channel\n"
                 "1,2024-01-01,Email Open,Web\n"
                 "1,2024-01-01,wishlist,tv\n"
                 "1,2024-01-01,wishlist,TV\n"
                 "1,2024-01-01,click,\n"
                 "1,2024-01-01,other,other\n")
    result = ingest_file(con, path, now=NOW)
    assert result.n_rows == 5
    types = con.execute("SELECT event_type, channel, count(*) FROM events GROUP BY ALL "
                        "ORDER BY ALL").fetchall()
    assert types == [("email_open", "web", 1), ("other", "other", 3), ("other", None, 1)]
    event_warning = next(w for w in result.warnings if "'event_type'" in w)
    assert "3 rows with 2 unknown values ('click', 'wishlist') stored as 'other'" in event_warning
    channel_warning = next(w for w in result.warnings if "'channel'" in w)
    assert "2 rows with 1 unknown value ('tv')" in channel_warning
    assert any("no amount column" in w for w in result.warnings)
    assert con.execute("SELECT n_warnings FROM ingests").fetchone() == (len(result.warnings),)


def test_boolean_spellings_for_consent(con, tmp_path):
    spellings = ["true", "FALSE", "Yes", "no", "Y", "n", "1", "0", "t", "F", "", " yes "]
    lines = "".join(f"{i:03d},{value}\n" for i, value in enumerate(spellings))
    path = write(tmp_path, "consent.csv", "customer_id,consent_ads\n" + lines)
    assert ingest_file(con, path, kind="customers", now=NOW).n_rows == len(spellings)
    stored = [r[0] for r in con.execute("SELECT consent_ads FROM customers ORDER BY customer_id")
              .fetchall()]
    assert stored == [True, False, True, False, True, False, True, False, True, False, None, True]


def test_customers_upsert_updates_and_never_erases(con, tmp_path):
    first = write(tmp_path, "crm1.csv", "customer_id,email,country,consent_ads,zip\n"
                  "001,a@example.com,de,yes,01067\n002,b@example.org,FR,no,75001\n")
    second = write(tmp_path, "crm2.csv", "customer_id,country,consent_ads\n001,AT,\n003,US,no\n")
    ingest_file(con, first, kind="customers", now=NOW)
    result = ingest_file(con, second, kind="customers", now=NOW)
    assert result.n_rows == 2
    rows = con.execute("SELECT customer_id, email, country, consent_ads, zip, ingest_id "
                       "FROM customers ORDER BY customer_id").fetchall()
    assert rows == [("001", "a@example.com", "AT", True, "01067", 2),
                    ("002", "b@example.org", "FR", False, "75001", 1),
                    ("003", None, "US", False, None, 2)]


def test_same_file_twice_is_refused_and_replace_works(con, tmp_path):
    path = write(tmp_path, "events.csv", GOOD_EVENTS)
    first = ingest_file(con, path, now=NOW)
    before = counts(con)
    copy = write(tmp_path, "renamed copy.csv", GOOD_EVENTS)  # same bytes, other name
    with pytest.raises(InputError) as excinfo:
        ingest_file(con, copy, now=NOW)
    message = str(excinfo.value)
    assert "renamed copy.csv" in message and f"import #{first.ingest_id}" in message
    assert "2024-06-01 12:00" in message and "--replace" in message
    assert counts(con) == before

    second = ingest_file(con, copy, replace=True, now=NOW)
    assert second.replaced_ingest_id == first.ingest_id and second.n_rows == 3
    assert con.execute("SELECT DISTINCT ingest_id FROM events").fetchall() == [(second.ingest_id,)]
    assert store.table_count(con, "events") == 3
    replaced_by = con.execute("SELECT json_extract(options, '$.replaced_by')::INTEGER FROM ingests "
                              "WHERE ingest_id = $id", {"id": first.ingest_id}).fetchone()[0]
    assert replaced_by == second.ingest_id
    # the same content as customers is a different import; as events again it is refused again
    with pytest.raises(InputError, match=f"import #{second.ingest_id}"):
        ingest_file(con, path, now=NOW)


def test_failed_replace_keeps_the_earlier_import(con, tmp_path, monkeypatch):
    path = write(tmp_path, "events.csv", GOOD_EVENTS)
    first = ingest_file(con, path, now=NOW)
    before = counts(con)
    # refused by validation: with an earlier "now" the rows are in the future
    with pytest.raises(InputError, match="in the future"):
        ingest_file(con, path, replace=True, now=datetime(2023, 1, 1))
    # fails after the earlier rows were deleted: the transaction puts them back
    monkeypatch.setattr(ingest_module, "import_warnings", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ingest_file(con, path, replace=True, now=NOW)
    assert counts(con) == before
    assert con.execute("SELECT DISTINCT ingest_id FROM events").fetchall() == [(first.ingest_id,)]
    assert con.execute("SELECT options->>'replaced_by' FROM ingests").fetchall() == [(None,)]


def test_replace_customers_file(con, tmp_path):
    path = write(tmp_path, "crm.csv", "customer_id,country\n001,DE\n002,FR\n")
    ingest_file(con, path, kind="customers", now=NOW)
    result = ingest_file(con, path, kind="customers", replace=True, now=NOW)
    assert result.n_rows == 2 and store.table_count(con, "customers") == 2
    assert con.execute("SELECT DISTINCT ingest_id FROM customers").fetchall() == [(2,)]


def test_other_delimiters_and_quoted_fields(con, tmp_path):
    path = write(tmp_path, "tabs.tsv", 'customer_id\tts\tevent_type\tcategory\n'
                 '1\t2024-01-01\tview\t"Home, Garden"\n2\t2024-01-01\tview\t"multi\nline"\n')
    assert ingest_file(con, path, now=NOW).n_rows == 2
    assert sorted(r[0] for r in con.execute("SELECT category FROM events").fetchall()) \
        == ["Home, Garden", "multi\nline"]


# --------------------------------------------------------------------------- quarantine

def test_quarantine_keeps_every_bad_row_with_reason_and_raw_values(con, tmp_path):
    path = write(tmp_path, "dirty.csv",
                 "id,ts,event_type,amount\n"
                 "1,2024-01-01,view,1\n"          # row 1 good
                 ",2024-01-01,view,1\n"           # row 2 empty id
                 "3,31/12/2023,view,1\n"          # row 3 bad ts
                 "4,2024-01-01,view,1,surplus\n"  # row 4 ragged
                 "5,2024-01-01,view,abc\n"        # row 5 bad amount
                 "6,2024-01-01,view,2\n"          # row 6 good
                 ",1960-01-01,,inf\n"             # row 7 four problems
                 "8,2024-01-01,view,3\n")         # row 8 good
    result = ingest_file(con, path, mapping={"customer_id": "id"}, quarantine=True, now=NOW)
    assert (result.n_rows, result.n_rejected) == (3, 5)
    assert sorted(r[0] for r in con.execute("SELECT customer_id FROM events").fetchall()) \
        == ["1", "6", "8"]
    rejects = con.execute("SELECT row_number, reason, raw, file, ingest_id FROM rejects "
                          "ORDER BY row_number").fetchall()
    assert [r[0] for r in rejects] == [2, 3, 4, 5, 7]
    reasons = {r[0]: r[1] for r in rejects}
    assert reasons[2] == "customer_id: empty customer id"
    assert reasons[3] == "ts: unparseable timestamp"
    assert reasons[4] == "wrong number of fields (the header has 4)"
    assert reasons[5] == "amount: non-numeric amount"
    assert reasons[7] == ("amount: non-finite amount; customer_id: empty customer id; "
                          "event_type: empty event type; ts: implausible timestamp (before 1970)")
    raws = {r[0]: json.loads(r[2]) for r in rejects}
    assert raws[3] == {"id": "3", "ts": "31/12/2023", "event_type": "view", "amount": "1"}
    assert raws[4] == {"line": "4,2024-01-01,view,1,surplus"}
    assert {r[3] for r in rejects} == {str(path.resolve())}
    assert {r[4] for r in rejects} == {result.ingest_id}
    assert con.execute("SELECT n_rows, n_rejected FROM ingests").fetchone() == (3, 5)


def test_quarantine_duplicate_customer_keeps_first(con, tmp_path):
    path = write(tmp_path, "dupes.csv", "customer_id,country\n7,DE\n8,FR\n7,AT\n")
    result = ingest_file(con, path, kind="customers", quarantine=True, now=NOW)
    assert (result.n_rows, result.n_rejected) == (2, 1)
    assert con.execute("SELECT country FROM customers WHERE customer_id = '7'").fetchone() == ("DE",)
    assert con.execute("SELECT row_number, reason FROM rejects").fetchall() == [
        (3, "customer_id: customer id repeated from an earlier row")]


def test_row_numbers_after_skipped_rows_and_multiline_fields(con, tmp_path):
    path = write(tmp_path, "lines.csv", "customer_id,ts,event_type,category\n"
                 '1,2024-01-01,view,"two\nlines"\n'   # row 1 spans two lines
                 "2,2024-01-01\n"                      # row 2 ragged
                 "3,2024-01-01,view,x\n"               # row 3 good
                 "4,never,view,x\n")                   # row 4 bad ts
    with pytest.raises(InputError) as excinfo:
        ingest_file(con, path, now=NOW)
    message = str(excinfo.value)
    assert "wrong number of fields (the header has 4) in 1 row (row 2): '2 fields'" in message
    assert "column 'ts': unparseable timestamp" in message
    assert "in 1 row (row 4): 'never'" in message


# --------------------------------------------------------------------------- bad input

BAD_CASES = {
    "missing_customer_id": (
        "id,country\n1,DE\n", {"kind": "customers"},
        ["missing required customers column customer_id (columns found: 'id', 'country')",
         "--map customer_id=YOUR_COLUMN"]),
    "missing_column": (
        "customer_id,when,kind\n1,2024-01-01,view\n", {},
        ["missing required events columns ts, event_type",
         "columns found: 'customer_id', 'when', 'kind'", "--map ts="]),
    "empty_file": ("", {}, ["the file is empty (0 bytes)"]),
    "blank_lines_only": ("\n\n  \n", {}, ["the file is empty"]),
    "header_only": ("customer_id,ts,event_type\n", {}, ["header but no data rows"]),
    "unparseable_ts": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n2,2024-13-01,view\n3,yesterday,view\n", {},
        ["2 bad rows", "column 'ts'", "unparseable timestamp (expected ISO 8601", "--ts-format",
         "in 2 rows (rows 2, 3)",
         "'2024-13-01', 'yesterday'"]),
    "ts_before_1970": (
        "customer_id,ts,event_type\n1,1969-12-31 23:59:59,view\n", {},
        ["column 'ts'", "before 1970", "(row 1)", "'1969-12-31 23:59:59'"]),
    "ts_in_future": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n1,2030-01-01,view\n", {},
        ["column 'ts'", "in the future, after 2024-06-02 12:00", "(row 2)", "'2030-01-01'"]),
    "wrong_ts_format": (
        "customer_id,ts,event_type\n1,20240101,view\n1,01.02.2024,view\n", {"ts_format": "%Y%m%d"},
        ["column 'ts'", "unparseable timestamp (expected '%Y%m%d' or ISO 8601) in 1 row (row 2): "
         "'01.02.2024'"]),
    "unquoted_decimal_comma": (
        "customer_id,ts,event_type,Betrag\n1,2024-01-01,view,12,50\n", {"mapping": {"amount": "Betrag"}},
        ["wrong number of fields", "row 1", "'5 fields'"]),
    "non_numeric_amount_semicolon": (
        "customer_id;ts;event_type;Betrag\n1;2024-01-01;view;12,50\n1;2024-01-01;view;€3\n",
        {"mapping": {"amount": "Betrag"}},
        ["column 'amount' (file column 'Betrag')", "non-numeric amount in 2 rows (rows 1, 2)",
         "'12,50', '€3'"]),
    "non_finite_amount": (
        "customer_id,ts,event_type,amount\n1,2024-01-01,view,inf\n1,2024-01-01,view,NaN\n", {},
        ["column 'amount'", "non-finite amount in 2 rows (rows 1, 2)", "'inf', 'NaN'"]),
    "non_numeric_quantity": (
        "customer_id,ts,event_type,quantity\n1,2024-01-01,view,two\n", {},
        ["column 'quantity'", "non-numeric quantity in 1 row (row 1)", "'two'"]),
    "empty_customer_id": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n  ,2024-01-01,view\n,2024-01-01,view\n", {},
        ["column 'customer_id'", "empty customer id in 2 rows (rows 2, 3)"]),
    "empty_event_type": (
        "customer_id,ts,event_type\n1,2024-01-01,\n", {},
        ["column 'event_type'", "empty event type in 1 row (row 1)"]),
    "ragged_rows": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n2,2024-01-01,view,extra\n3,2024-01-01\n", {},
        ["wrong number of fields (the header has 3) in 2 rows (rows 2, 3)", "'4 fields', '2 fields'"]),
    "map_to_missing_column": (
        "id,ts,event_type\n1,2024-01-01,view\n", {"mapping": {"customer_id": "Kunde"}},
        ["--map customer_id=Kunde", "no column 'Kunde'", "columns found: 'id', 'ts', 'event_type'"]),
    "unknown_canonical_in_map": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n", {"mapping": {"price": "amount"}},
        ["--map price=amount", "'price' is not one of the events columns", "customer_id, ts, event_type"]),
    "unknown_canonical_in_set": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n", {"constants": {"shop": "berlin"}},
        ["--set shop=berlin", "'shop' is not one of the events columns"]),
    "map_and_set_same_column": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n",
        {"mapping": {"event_type": "event_type"}, "constants": {"event_type": "view"}},
        ["event_type is given both by --map and by --set"]),
    "invalid_ts_format": (
        "customer_id,ts,event_type\n1,2024-01-01,view\n", {"ts_format": "%Q"},
        ["--ts-format '%Q' is not a valid strptime format"]),
    "unknown_kind": ("customer_id\n1\n", {"kind": "orders"}, ["unknown kind 'orders'"]),
    "duplicate_customer": (
        "customer_id,country\n7,DE\n8,FR\n7,AT\n08,FR\n8,FR\n", {"kind": "customers"},
        ["column 'customer_id'", "repeated from an earlier row in 2 rows (rows 3, 5)", "'7', '8'"]),
    "bad_country_and_consent": (
        "customer_id,country,consent_ads\n1,Germany,yes\n2,DE,maybe\n", {"kind": "customers"},
        ["column 'country'", "ISO-3166 alpha-2 country code in 1 row (row 1): 'GERMANY'",
         "column 'consent_ads'", "not a yes/no value in 1 row (row 2): 'maybe'"]),
    "many_bad_rows_sampled": (
        "customer_id,ts,event_type\n" + "".join(f"{i},bad{i},view\n" for i in range(1, 12)), {},
        ["11 bad rows", "in 11 rows (rows 1, 2, 3, 4, 5, …)",
         "'bad1', 'bad2', 'bad3', 'bad4', 'bad5'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(seeded, tmp_path, case):
    text, kwargs, expected = BAD_CASES[case]
    path = write(tmp_path, f"{case}.csv", text)
    before = counts(seeded)
    with pytest.raises(InputError) as excinfo:
        ingest_file(seeded, path, now=NOW, **kwargs)
    message = str(excinfo.value)
    if not case.startswith(("unknown_canonical", "map_and_set", "invalid_ts", "unknown_kind")):
        assert f"{case}.csv" in message  # option errors are found before the file is opened
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "\n" not in message
    assert counts(seeded) == before


@pytest.mark.parametrize("case, content, expected", [
    ("binary", bytes(range(256)) * 8, "binary content (NUL bytes)"),
    ("latin1", "customer_id,ts,event_type\nM\u00fcller,2024-01-01,view\n".encode("latin-1") * 5,
     "not UTF-8 text"),
    ("excel", b"PK\x03\x04" + b"\x00" * 100, "ZIP archive or an Excel workbook"),
    ("broken_gzip", b"\x1f\x8b\x08\x00garbage-not-deflate", "not a readable gzip file"),
    ("utf16", "customer_id,ts\n1,2\n".encode("utf-16"), "UTF-16"),
    ("truncated_parquet", b"PAR1" + b"\x01" * 64, "cannot read the file as PARQUET"),
    # the browser walk: DuckDB's own message ("Error when sniffing file") named no row
    ("open_quote", b"customer_id,ts,event_type\n1,2025-06-01,view\n2,\"2025-06-02,view\n3,2025-06-03,view\n"
                   b"4,2025-06-04,view\n", "line 3 opens a quote (\") that is never closed"),
])
def test_unreadable_files_are_refused(seeded, tmp_path, case, content, expected):
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content)
    before = counts(seeded)
    with pytest.raises(InputError) as excinfo:
        ingest_file(seeded, path, now=NOW)
    assert f"{case}.csv" in str(excinfo.value) and expected in str(excinfo.value)
    assert counts(seeded) == before


def test_non_finite_amount_in_parquet(seeded, tmp_path):
    path = tmp_path / "inf.parquet"
    pq.write_table(pa.table({"customer_id": ["1", "2"], "ts": ["2024-01-01", "2024-01-02"],
                             "event_type": ["view", "view"],
                             "amount": pa.array([1.0, float("inf")], from_pandas=False)}), path)
    before = counts(seeded)
    with pytest.raises(InputError, match=r"inf\.parquet.*column 'amount'.*non-finite amount "
                                         r"in 1 row \(row 2\): 'inf'"):
        ingest_file(seeded, path, now=NOW)
    assert counts(seeded) == before


def test_missing_file(con, tmp_path):
    with pytest.raises(NotFoundError, match="nope.csv: no such file"):
        ingest_file(con, tmp_path / "nope.csv")


def test_parse_assignments():
    assert parse_assignments(["customer_id=Kunde", " ts = Datum "], "--map") \
        == {"customer_id": "Kunde", "ts": "Datum"}
    assert parse_assignments(["event_type=purchase"], "--set") == {"event_type": "purchase"}
    assert parse_assignments([], "--map") == {}
    for bad in (["customer_id"], ["=x"], ["ts="]):
        with pytest.raises(InputError, match="expected CANONICAL=VALUE"):
            parse_assignments(bad, "--map")
    with pytest.raises(InputError, match="given twice"):
        parse_assignments(["ts=a", "ts=b"], "--map")


def test_every_ingest_query_is_used(con, tmp_path, monkeypatch):
    """Each queries/ingest/ingest_NN_*.sql (an import step) runs in these flows (they depend on the import's temp tables)."""
    used: set[str] = set()
    real_load = ingest_read.load_query

    def spy(name):
        used.add(name)
        return real_load(name)

    monkeypatch.setattr(ingest_read, "load_query", spy)
    events = write(tmp_path, "e.csv", GOOD_EVENTS + "1,bad,view,web,,,\n1,2024-01-01\n")
    ingest_file(con, events, quarantine=True, ts_format="%Y%m%d", now=NOW)
    ingest_file(con, events, quarantine=True, replace=True, now=NOW)
    crm = write(tmp_path, "c.csv", "customer_id,country\n1,DE\n")
    ingest_file(con, crm, kind="customers", now=NOW)
    ingest_file(con, crm, kind="customers", replace=True, now=NOW)
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.table({"customer_id": ["1"], "ts": ["2024-01-01"], "event_type": ["view"]}),
                   parquet)
    ingest_file(con, parquet, now=NOW)
    files = {p.stem for p in QUERIES_DIR.rglob("ingest_*.sql")}
    assert files - used == set()


def test_contact_columns_named_with_hyphens_or_run_together_are_imported_and_others_are_named(con, tmp_path):
    """An analyst's walk: 'E-Mail' folded to e_mail, matched nothing, and every e-mail was dropped without a word."""
    path = write(tmp_path, "crm.csv", "Customer ID,E-Mail,Phone,FirstName,Loyalty tier\n"
                                      "001,a@example.com,+49 30 1234567,Ana,gold\n002,b@example.org,,Bo,\n")
    result = ingest_file(con, path, kind="customers", now=NOW)
    rows = con.execute("SELECT customer_id, email, first_name FROM customers ORDER BY customer_id").fetchall()
    assert rows == [("001", "a@example.com", "Ana"), ("002", "b@example.org", "Bo")]
    assert result.warnings[0] == (f"{path}: 1 column of the file not imported ('Loyalty tier'): its name is not one "
                                  "of the customers columns; --map imports a column under one of them")
    # no consent column: only the customers new in the file have unknown consent
    assert result.warnings[1].endswith("consent is unknown for the customers new in this file (exports leave them "
                                       "out unless asked), and those already stored keep theirs")
    # a column mapped by hand is not matched a second time by its letters
    again = write(tmp_path, "crm2.csv", "id,EMail,e_mail\n003,c@example.com,d@example.com\n")
    ingest_file(con, again, kind="customers", mapping={"customer_id": "id", "email": "e_mail"}, now=NOW)
    assert con.execute("SELECT email FROM customers WHERE customer_id = '003'").fetchone() == ("d@example.com",)


def test_a_refused_files_message_names_rows_without_quoting_contact_data(con, tmp_path):
    """An analyst's walk: a shop keyed on e-mail addresses saw them in the message of a repeated customer id."""
    path = write(tmp_path, "by_email.csv", "customer_id,country\njane@example.com,DE\nbo@example.org,FR\n"
                                           "jane@example.com,AT\n")
    with pytest.raises(InputError) as excinfo:
        ingest_file(con, path, kind="customers", now=NOW)
    message = str(excinfo.value)
    assert "customer id repeated from an earlier row in 1 row (row 3): '[e-mail]'" in message, message
    assert "@" not in message
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (0,)
    # a phone number as the id is masked too; a bad date is still quoted (it is what to fix)
    phones = write(tmp_path, "by_phone.csv", "customer_id,country\n+49 30 1234567,DE\n+49 30 1234567,AT\n")
    with pytest.raises(InputError) as excinfo:
        ingest_file(con, phones, kind="customers", now=NOW)
    assert "(row 2): '[number]'" in str(excinfo.value) and "1234567" not in str(excinfo.value)
    bad = write(tmp_path, "bad.csv", "customer_id,ts,event_type\n7,2024-13-45,view\n")
    with pytest.raises(InputError) as excinfo:
        ingest_file(con, bad, now=NOW)
    assert "(row 1): '2024-13-45'" in str(excinfo.value)
