"""No contact data in what the app renders: every page, every chart, hover text, table and log line.

The pages are rendered on the demo timeline (whose customers all have e-mails,
phones and names) and everything the browser would receive is collected and
searched for the customers' e-mail addresses, phone numbers and full names.
"""

from __future__ import annotations

import logging
import re

import duckdb
import pandas as pd
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT

APP = str(ROOT / "app.py")
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def rendered(at: AppTest) -> str:
    """Everything a browser would receive for the current page (element protos, table contents)."""
    parts: list[str] = []

    def walk(node) -> None:
        value = getattr(node, "value", None) if type(node).__name__ == "Dataframe" else None
        if isinstance(value, pd.DataFrame):
            parts.append(value.to_csv(index=False))
        proto = getattr(node, "proto", None)
        if proto is not None:  # as UTF-8 text, so accented names would be found too
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def contact_data(db) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT customer_id, email, phone, first_name, last_name FROM customers").df()
    finally:
        con.close()


def test_no_page_shows_an_email_phone_or_name(demo_runs_db, monkeypatch, caplog):
    monkeypatch.setenv("SEGMENTATION_DB", str(demo_runs_db))
    caplog.set_level(logging.DEBUG)
    at = AppTest.from_file(APP, default_timeout=120).run()
    pages = [rendered(at)]
    for page in ("map", "segment", "evolution", "run", "data"):
        at.switch_page(f"segmentation/ui/{page}.py").run()
        assert not at.exception, page
        pages.append(rendered(at))
    # every segment's page (each shows a sample of its members) and its export check (hashed preview)
    at.switch_page("segmentation/ui/segment.py").run()
    segment_ids = at.selectbox(key="_segment_picker").options
    shown_members: list[str] = []
    for option in segment_ids:
        at.selectbox(key="_segment_picker").set_value(int(option.rsplit(" ", 1)[-1].rstrip(")"))).run()
        assert not at.exception
        shown_members += at.dataframe[-1].value["customer_id"].tolist()
        pages.append(rendered(at))
    at.switch_page("segmentation/ui/export.py").run()
    run_key = next(k for k in at.session_state if k.startswith("export_segments_"))
    at.multiselect(key=run_key).select(at.multiselect(key=run_key).options[0]).run()
    assert not at.exception and at.dataframe  # the preview is there
    pages.append(rendered(at))
    blob = "\n".join(pages + [caplog.text])

    contacts = contact_data(demo_runs_db)
    members = contacts[contacts["customer_id"].isin(shown_members)]
    assert len(members) >= 20  # the check below is about customers the pages did show (masked)
    emails = set(contacts["email"].dropna().str.lower())
    assert not emails & {e.lower() for e in EMAIL.findall(blob)}
    digits_in_blob = set(re.findall(r"\d{7,}", re.sub(r"[\s().+-]", "", blob)))
    for phone in members["phone"].dropna():
        assert phone not in blob
        assert re.sub(r"\D", "", phone) not in digits_in_blob
    for first, last in zip(members["first_name"], members["last_name"]):
        assert f"{first} {last}" not in blob


def test_the_export_preview_says_which_plain_contact_columns_the_file_holds_without_showing_them(
        demo_runs_db, monkeypatch):
    """The browser walk: with “Plain contact columns” ticked for LinkedIn the caption still said only that
    identifiers are hashed, and empty cells read "None"."""
    monkeypatch.setenv("SEGMENTATION_DB", str(demo_runs_db))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("segmentation/ui/export.py").run()
    run_key = next(k for k in at.session_state if k.startswith("export_segments_"))
    at.multiselect(key=run_key).select(at.multiselect(key=run_key).options[0]).run()
    at.selectbox(key="export_platform").select("linkedin").run()
    captions = lambda: [c.value for c in at.caption if c.value.startswith("First ")]  # noqa: E731
    assert captions() == ["First 5 rows of `" + captions()[0].split("`")[1] + "` (identifiers SHA-256 hashed as "
                          "the platform asks)"]  # names not asked for: the file's name columns are empty
    at.checkbox(key="export_pii").check().run()
    assert not at.exception
    assert captions()[0].endswith("(identifiers SHA-256 hashed as the platform asks; the plain contact columns "
                                  "firstname, lastname are in the file, not shown here)")
    preview = next(d.value for d in at.dataframe if "email" in d.value.columns)
    assert {"firstname", "lastname"}.isdisjoint(preview.columns) and len(preview) == 5
    assert not preview.isin(["None", None]).any().any()  # an empty cell is blank
    blob = rendered(at)
    assert not [f"{first} {last}" for first, last in contact_data(demo_runs_db)[["first_name", "last_name"]].values
                if f"{first} {last}" in blob]
