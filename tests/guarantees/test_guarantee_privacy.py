"""Privacy: a full small flow (demo → run → exports → assign → failing commands) never shows the
demo customers' e-mails, phones or full names in any output, log, error message, model file or
export file, unless an export is explicitly asked to include them (--include-pii)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from segmentation.errors import redact
from segmentation.audiences.normalise import normalise_phone
from tests.guarantees.guarantee_tools import cli, one_line_error, small_run


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_run(tmp_path_factory)


def _pii(db: Path) -> dict[str, set[str]]:
    """Every demo customer's e-mail, phone (as stored, in E.164 and as digits) and full name."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT email, phone, country, first_name, last_name FROM customers").fetchall()
    finally:
        con.close()
    phones = set()
    for _, phone, country, _, _ in rows:
        e164 = normalise_phone(phone, country)
        phones |= {phone, e164, e164[1:]} if e164 else {phone}
    return {"email": {r[0] for r in rows}, "phone": phones, "name": {f"{r[3]} {r[4]}" for r in rows}}


def _leaks(blob: str, pii: dict[str, set[str]]) -> list[str]:
    lowered = blob.lower()
    return [f"{kind}: {value}" for kind, values in pii.items() for value in values if value.lower() in lowered]


def test_a_full_flow_shows_no_contact_data_outside_an_export_that_asks_for_it(small, tmp_path):
    db = small.copy_to(tmp_path / "db")
    pii = _pii(db)
    assert len(pii["email"]) == 400 and len(pii["phone"]) >= 800
    outputs = list(small.outputs)  # demo and run of the shared database (fitting logs included)

    crm, meta, scores = tmp_path / "out" / "crm.csv", tmp_path / "out" / "meta.csv", tmp_path / "out" / "scores.csv"
    steps = [("export", "--run", "1", "--segment", "0", "--platform", "crm", "--out", str(crm), "--json"),
             ("export", "--run", "1", "--segment", "0", "--segment", "1", "--platform", "meta", "--out", str(meta),
              "--min-size", "10", "--allow-unknown-consent"),
             ("assign", "--run", "1", "--out", str(scores), "--json"),
             ("segments", "--run", "1", "--json"), ("exports", "--json"), ("status", "--json"), ("runs",)]
    for args in steps:
        result = cli(db, *args)
        outputs += [result.stdout, result.stderr]

    # Failing commands: unknown run and segment, a refused export, a customers file with bad rows.
    con = duckdb.connect(str(db), read_only=True)
    contacts = con.execute("SELECT customer_id, email, phone, first_name, last_name, country FROM customers "
                           "ORDER BY customer_id LIMIT 3").fetchall()
    con.close()
    bad_customers = tmp_path / "customers.csv"
    with open(bad_customers, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "email", "phone", "first_name", "last_name", "country", "consent_ads"])
        for customer_id, email, phone, first, last, country in contacts:
            writer.writerow([customer_id, email, phone, first, last, country.lower() + "x", "maybe"])
        writer.writerow([contacts[0][0], contacts[0][1], contacts[0][2], "A", "B", "DE", "yes"])  # repeated id
    failures = [("export", "--run", "9", "--segment", "0", "--platform", "crm", "--out", str(tmp_path / "x.csv")),
                ("export", "--run", "1", "--segment", "0", "--platform", "tiktok", "--out", str(tmp_path / "t.csv")),
                ("name", "--run", "1", "--segment", "999", "--name", "Owls"),
                ("ingest", str(bad_customers), "--kind", "customers")]
    for args in failures:
        result = cli(db, *args, check=False)
        assert result.returncode in (2, 4), (args, result.stderr)
        one_line_error(result)
        outputs += [result.stdout, result.stderr]
    assert "not a yes/no value" in outputs[-1] and "customer id repeated" in outputs[-1]

    files = [crm, meta, scores]
    files += sorted(p for p in db.with_name("small.models").rglob("*") if p.is_file())
    assert len(files) >= 6  # the three outputs and the model files of run 1
    texts = outputs + [p.read_bytes().decode("utf-8", errors="replace") for p in files]
    assert _leaks("\n".join(texts), pii) == []

    # The scan finds contact data where it is asked for: the crm file with --include-pii.
    with_pii = tmp_path / "out" / "crm_pii.csv"
    cli(db, "export", "--run", "1", "--segment", "0", "--platform", "crm", "--out", str(with_pii), "--include-pii")
    with open(with_pii, newline="", encoding="utf-8") as handle:
        members = list(csv.DictReader(handle))
    assert len(_leaks(with_pii.read_text(encoding="utf-8"), pii)) >= len(members) > 0


def test_model_files_hold_no_contact_data_only_customer_ids_at_most(small):
    pii = _pii(small.db)
    models = sorted(p for p in small.db.with_name("small.models").rglob("*") if p.is_file())
    manifest = json.loads(next(p for p in models if p.name == "manifest.json").read_text())
    con = duckdb.connect(str(small.db), read_only=True)
    try:
        params, n_segments = con.execute("SELECT params, n_segments FROM runs WHERE run_id = 1").fetchall()[0]
        customer_columns = [c[0] for c in con.execute("DESCRIBE customers").fetchall()]
    finally:
        con.close()
    # SegmentationPipeline.save writes the model's inputs under "feature_names": exactly the behaviour
    # features the run clustered on (stored with the run), none of them a column of the customers table.
    names = manifest["feature_names"]
    assert names == json.loads(params)["clustering_features"] and len(names) >= 10
    assert set(names).isdisjoint(customer_columns) and {"email", "phone", "last_name"} <= set(customer_columns)
    assert manifest["n_segments"] == n_segments
    for path in models:
        assert _leaks(path.read_bytes().decode("latin-1"), pii) == [], path


def test_unexpected_error_messages_are_redacted():
    """Library errors may quote the offending value; the command line shows them redacted."""
    assert redact("Conversion Error: Could not convert string 'jane.doe@example.com' to INT32") == \
        "Conversion Error: Could not convert string '…' to INT32"
    assert redact("bad value jane.doe+news@example.co.uk in row 3") == "bad value [e-mail] in row 3"
    assert redact("phone +49 30 1234567 and 030 1234567 and (917) 994-6036") == \
        "phone [number] and [number] and [number]"
    # Dates, counts and ids stay readable.
    assert redact("run 12 as of 2025-02-28 has 3,204 customers") == "run 12 as of 2025-02-28 has 3,204 customers"
