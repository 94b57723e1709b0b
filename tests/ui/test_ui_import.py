"""AppTest: importing a file from the browser on the Data page (upload, column mapping, validation)."""

from __future__ import annotations

import re

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT

APP = str(ROOT / "app.py")
GOOD = (b"User;When;What;Spend\n"
        b"007;2025-03-01 10:00:00;purchase;12.5\n"
        b"008;2025-03-02;view;\n"
        b"007;2025-03-03;cart;0\n")


def _data_page(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SEGMENTATION_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page("segmentation/ui/data.py").run()


def _key(at: AppTest, prefix: str, canonical: str) -> str:
    return next(k for k in at.session_state if k.startswith(prefix) and k.endswith(f"_{canonical}"))


def _plain(markdown: str) -> str:
    """A message as it reads on the page: markdown's escapes taken away."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _events(db) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT customer_id, ts::VARCHAR, event_type, amount FROM events ORDER BY ts").fetchall()
    finally:
        con.close()


def _map_and_import(at: AppTest, mapping: dict[str, str]) -> AppTest:
    for canonical, column in mapping.items():
        at.selectbox(key=_key(at, "map_", canonical)).select(column)
    next(b for b in at.button if b.label == "Import").click()
    return at.run()


def test_upload_is_mapped_to_the_canonical_columns_and_imported(db_file, monkeypatch):
    at = _data_page(db_file, monkeypatch)
    at.file_uploader[0].upload("shop events.csv", GOOD, "text/csv")
    at.run()
    assert not at.exception
    # the form offers the file's columns, each already matched by its name (shown for confirmation)
    assert at.selectbox(key=_key(at, "map_", "customer_id")).options == ["— not in the file —", "User", "When",
                                                                        "What", "Spend"]
    chosen = {c: at.selectbox(key=_key(at, "map_", c)).value for c in ("customer_id", "ts", "event_type", "amount")}
    assert chosen == {"customer_id": "User", "ts": "When", "event_type": "What", "amount": "Spend"}
    at = _map_and_import(at, {})  # no manual choice
    assert not at.exception
    assert not at.code  # said in words, not as a command line's output
    assert _plain(at.success[0].value).startswith("Imported 3 rows of events from shop events.csv (import #1")
    assert _events(db_file) == [("007", "2025-03-01 10:00:00", "purchase", 12.5),
                                ("008", "2025-03-02 00:00:00", "view", 0.0),
                                ("007", "2025-03-03 00:00:00", "cart", 0.0)]
    assert {m.label: m.value for m in at.metric}["Events"] == "3"  # the page shows the new data at once


def test_a_bad_row_is_reported_like_the_command_line_and_nothing_is_imported(db_file, monkeypatch):
    at = _data_page(db_file, monkeypatch)
    bad = GOOD + b"009;yesterday;view;\n"
    at.file_uploader[0].upload("bad.csv", bad, "text/csv").run()
    at = _map_and_import(at, {"customer_id": "User", "ts": "When", "event_type": "What"})
    assert not at.exception
    assert len(at.error) == 1 and not at.code
    title, message = at.error[0].value.split("  \n")
    message = _plain(message)
    assert title == "**Nothing was imported.**"
    assert message.startswith("bad.csv: 1 bad row, nothing was imported")  # the upload's name, not a server path
    assert "column “When it happened” (file column 'When')" in message and "(row 4): 'yesterday'" in message
    assert _events(db_file) == []


def test_a_missing_required_column_names_what_to_map(db_file, monkeypatch):
    at = _data_page(db_file, monkeypatch)
    at.file_uploader[0].upload("nomap.csv", GOOD, "text/csv").run()
    not_in_file = "— not in the file —"  # the user takes the matched columns away
    at = _map_and_import(at, {"ts": not_in_file, "event_type": not_in_file})
    assert "missing required events columns ts, event_type" in _plain(at.error[0].value)
    assert _events(db_file) == []


def test_a_file_over_the_upload_limit_gets_a_clear_message(db_file, monkeypatch):
    from segmentation.ui import data_import

    monkeypatch.setattr(data_import, "UPLOAD_LIMIT_MB", 1)
    at = _data_page(db_file, monkeypatch)
    big = b"customer_id,ts,event_type\n" + b"1,2025-01-01,view\n" * 70_000
    assert f"{len(big) / 1024 / 1024:.1f}" == "1.2"
    at.file_uploader[0].upload("big.csv", big, "text/csv").run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors == ["big.csv: the file is 1.2 MB, more than the 1 MB an upload may have; import it from the "
                      "command line instead (ask an analyst to run the import command), which reads files of any size"]
    assert not [b for b in at.button if b.label == "Import"]
    assert _events(db_file) == []


def test_the_form_shows_the_first_rows_plain_field_names_and_no_command_line(db_file, monkeypatch):
    people = (b"id,mail,Given Name,plz,consent\n"
              b"7,ana@example.com,Ana,10115,yes\n"
              b"8,bo@example.org,Bo,80331,no\n")
    at = _data_page(db_file, monkeypatch)
    at.segmented_control(key="import_kind").set_value("customers").run()
    at.file_uploader[0].upload("people.csv", people, "text/csv").run()
    assert not at.exception
    preview = at.dataframe[-1].value
    assert list(preview.columns) == ["id", "mail", "Given Name", "plz", "consent"] and len(preview) == 2
    assert preview["mail"].tolist() == ["a•••", "b•••"] and preview["Given Name"].tolist() == ["A•••", "B•••"]
    assert preview["plz"].tolist() == ["10115", "80331"]
    labels = {at.selectbox(key=_key(at, "map_", c)).label: at.selectbox(key=_key(at, "map_", c)).value
              for c in ("customer_id", "email", "first_name", "zip", "consent_ads")}
    assert labels == {"Customer *": "id", "E-mail": "mail", "First name": "Given Name", "Postal code": "plz",
                      "Agreed to advertising": "consent"}
    shown = " ".join(str(e.value) for e in (*at.caption, *at.markdown))
    assert "--" not in shown and "python -m" not in shown


def test_rows_kept_aside_are_listed_and_downloadable_and_a_snapshot_is_one_click(db_file, monkeypatch):
    at = _data_page(db_file, monkeypatch)
    bad = GOOD + b"009;yesterday;view;\n"
    at.file_uploader[0].upload("mixed.csv", bad, "text/csv").run()
    quarantine = next(k for k in at.session_state if k.startswith("quarantine_"))
    at.checkbox(key=quarantine).check()
    at = _map_and_import(at, {})
    assert not at.exception
    lines = _plain(at.success[0].value).split("  \n")
    assert lines[0].startswith("Imported 3 rows of events from mixed.csv") and lines[1:] == [
        "1 bad row was kept aside: see below."]
    kept = next(d.value for d in at.dataframe if "row_number" in d.value.columns)
    assert kept["row_number"].tolist() == [4] and kept["reason"].tolist() == ["ts: unparseable timestamp"]
    assert [b.label for b in at.get("download_button")] == ["Download the rows kept aside (CSV)"]
    assert len(_events(db_file)) == 3  # the good rows are in
    imports = next(d.value for d in at.dataframe if "n_rejected" in d.value.columns)
    assert imports[["file", "n_rows", "n_rejected"]].values.tolist() == [["mixed.csv (uploaded)", 3, 1]]  # not the server's path
    assert [b.label for b in at.button if b.key == "import_snapshot"] == ["Compute a snapshot now"]
    at.button(key="import_snapshot").click().run()
    from segmentation.ui.background import job_registry

    job = job_registry().jobs()[-1]  # started in the background, as of the data's last day, default window
    assert job.label == "snapshot of 2025-03-03 (90-day window)"
    assert at.title[0].value == "Run"  # where its progress shows
    assert job_registry().wait(job, 300)
    assert (job.state, job.error) == ("failed", "2 customers are too few to segment: need at least 20 (the "
                                               "fewest the workbench segments)")  # three events are not enough


def test_command_line_words_become_the_forms_words():
    from pathlib import Path

    from segmentation.ui.data_import import in_app_words

    stored = Path("/srv/data/uploads/ab12/shop.csv")
    message = (f"{stored}: missing required events columns ts; map it with --map ts=YOUR_COLUMN, or give "
               "--ts-format '%d.%m.%Y'; use --quarantine or --replace")
    assert in_app_words(message, stored, "shop.csv") == (
        "shop.csv: missing required events columns ts; map it with the column chosen for “When it happened”, "
        "or give the timestamp format '%d.%m.%Y'; use “Import the good rows and keep the bad ones in the rejects "
        "table” or "
        "“Replace an earlier import of the same file”")
    # the message of a file without two required columns, as the browser walk met it
    missing = (f"{stored}: missing required events columns ts, event_type (columns found: a, b); rename them in "
               "the file or map them with --map ts=YOUR_COLUMN, or give a constant with --set event_type=VALUE")
    assert in_app_words(missing, stored, "shop.csv") == (
        "shop.csv: missing required events columns ts, event_type (columns found: a, b); rename them in the file "
        "or choose their columns in the form below, or give “What happened” one value for every row")
    # a bad value, as the third browser walk met it: our column names and the option were shown
    bad = (f"{stored}: 1 bad row, nothing was imported — column 'ts' (file column 'Date'): unparseable timestamp "
           "(expected ISO 8601 such as 2024-01-31 or 2024-01-31 13:45:00; give other formats with --ts-format) "
           "in 1 row (row 3): '31/05/2025'. Fix the file, or use --quarantine to import the good rows and keep the "
           "bad ones in the rejects table.")
    assert in_app_words(bad, stored, "shop.csv") == (
        "shop.csv: 1 bad row, nothing was imported — column “When it happened” (file column 'Date'): unparseable "
        "timestamp (expected ISO 8601 such as 2024-01-31 or 2024-01-31 13:45:00; for other formats, write how the "
        "dates are written in “How the dates are written”) in 1 row (row 3): '31/05/2025'. Fix the file, or tick "
        "“Import the good rows and keep the bad ones in the rejects table”. (Row 1 is the first line after the "
        "column names.)")


@pytest.mark.parametrize("data, header", [
    (b"Customer ID;Time Stamp;event-type\n1;2;3\n", ["Customer ID", "Time Stamp", "event-type"]),
    (b"\xef\xbb\xbfa,b\n", ["a", "b"]),
    (b"a\tb|c\n", ["a", "b|c"]),
    (b"", None),
])
def test_read_header_and_default_mapping(data, header):
    from segmentation.ui.data_import import default_mapping, read_header

    assert read_header(data) == header
    if header and header[0] == "Customer ID":
        assert default_mapping("events", header) == {"customer_id": "Customer ID", "event_type": "event-type",
                                                     "ts": "Time Stamp"}


def test_everyday_column_names_are_matched_without_a_manual_choice():
    from segmentation.ui.data_import import default_mapping

    assert default_mapping("events", ["user", "when", "what", "where", "cat", "price"]) == {
        "customer_id": "user", "ts": "when", "event_type": "what", "channel": "where", "category": "cat",
        "amount": "price"}
    # an exact name wins over a synonym, and one file column maps to one of ours only
    assert default_mapping("events", ["id", "customer_id", "date", "time"]) == {"customer_id": "customer_id",
                                                                               "ts": "time"}
    assert default_mapping("customers", ["Client", "E-Mail", "Mobile", "Surname", "Postcode", "Opt-in"]) == {
        "customer_id": "Client", "email": "E-Mail", "phone": "Mobile", "last_name": "Surname",
        "zip": "Postcode", "consent_ads": "Opt-in"}


def test_the_preview_masks_contact_details_in_any_file_and_any_column():
    """The helper's browser walk found an events file's phone and names, and a customer file's second
    phone column (``mobile``), shown in clear in the preview."""
    from segmentation.ui.data_import import preview_rows

    events = (b"customer_id,ts,event_type,phone,first_name,surname,note\n"
              b"7,2025-06-30,purchase,+4915112345678,Alice,Schmidt,call 0151 2345678\n")
    shown = preview_rows(events, None, "events")
    assert shown.loc[0, "phone"] == "+•••" and shown.loc[0, "first_name"] == "A•••"
    assert shown.loc[0, "surname"] == "S•••" and shown.loc[0, "customer_id"] == "7"
    assert shown.loc[0, "ts"] == "2025-06-30" and shown.loc[0, "event_type"] == "purchase"
    people = (b"id,email,phone,mobile,Full Name,plz\n"
              b"7,ana@example.com,+49 30 1234567,0151 2345678,Ana Silva,10115\n")
    shown = preview_rows(people, None, "customers")
    assert shown.loc[0].tolist() == ["7", "a•••", "+•••", "0•••", "A•••", "10115"]
    # a value alone gives a column away, whatever its name
    loose = preview_rows(b"customer_id,contact\n7,(030) 1234567\n8,\n", None, "customers")
    assert loose["contact"].tolist() == ["(•••", ""]


def test_an_upload_is_named_by_its_own_name_with_a_relative_or_symlinked_database(tmp_path, monkeypatch):
    """A review: the import stores the upload's resolved path, and the default database name is relative
    (data/workbench.duckdb), so the table showed the server's path."""
    from segmentation.ui import common, data_import

    (tmp_path / "real" / "uploads" / "5be08c9684a1").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    stored = str((tmp_path / "real" / "uploads" / "5be08c9684a1" / "shop.csv").resolve())
    for db in ("real/workbench.duckdb", "link/workbench.duckdb", str(tmp_path / "link" / "workbench.duckdb")):
        monkeypatch.setattr(common, "current_db", lambda db=db: db)
        assert data_import.uploaded_name(stored) == "shop.csv (uploaded)", db
    assert data_import.uploaded_name("/srv/drop/shop.csv") == "/srv/drop/shop.csv"  # a command line's file


def test_the_form_starts_from_the_columns_ingest_itself_would_pick():
    """A review: ingest matched 'CustomerID' and 'E-Mail' by their letters while the form offered "not in the
    file" for them; both now use ingest.columns.match_columns."""
    from segmentation.ui.data_import import default_mapping

    assert default_mapping("customers", ["CustomerID", "E-Mail", "Mobile", "ConsentAds", "Notes"]) == {
        "customer_id": "CustomerID", "email": "E-Mail", "consent_ads": "ConsentAds",
        "phone": "Mobile"}  # Mobile: a synonym, as before
    assert default_mapping("events", ["Customer ID", "TS", "EventType"]) == {
        "customer_id": "Customer ID", "ts": "TS", "event_type": "EventType"}
