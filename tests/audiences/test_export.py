"""Audience exports: known hash vectors, exact file layouts, guards, audit, atomic writes, deltas.

Expected hashes are computed here with hashlib from hand-written normalised strings
(never with the code under test), plus one vector published by TikTok.
Most tests use a small hand-built database; one uses the stored demo timeline.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from segmentation.audiences import export, write as export_write
from segmentation.data import store
from segmentation.errors import InputError, NotFoundError
from segmentation.audiences.export import format_rows, letters_only, meta_zip, neutralise_formula, normalise_email, normalise_email_tiktok, normalise_name, normalise_phone, plan_export, sensitive_terms, write_export
from tests.helpers import ROOT


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------- normalisation vectors

@pytest.mark.parametrize("raw, expected", [
    ("  John.Doe@Example.COM ", "john.doe@example.com"),
    ("ÉMILE@exemple.fr", "émile@exemple.fr"),
    ("no-at-sign.example.com", None), ("a@b", None), ("two words@example.com", None), ("", None), (None, None),
])
def test_normalise_email(raw, expected):
    assert normalise_email(raw) == expected


def test_email_hash_vectors():
    assert export.hash_or_none(normalise_email(" John.Doe@Example.COM")) == sha("john.doe@example.com")
    # TikTok's own documented example: "janedoe@gmail.com" hashes to d611...6c69
    assert export.sha256_hex(normalise_email_tiktok(" JaneDoe+News@Gmail.com ")) == \
        "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
    assert normalise_email_tiktok("_x@example.com") is None and normalise_email_tiktok("+tag@example.com") is None


@pytest.mark.parametrize("phone, country, e164", [
    ("(415) 555-2671", "US", "+14155552671"),
    ("020 7946 0018", "GB", "+442079460018"),
    ("030 1234567", "DE", "+49301234567"),
    ("0151 23456789", "de", "+4915123456789"),
    ("01 42 68 53 00", "FR", "+33142685300"),
    ("912 345 678", "ES", "+34912345678"),
    ("(02) 9374 4000", "AU", "+61293744000"),
    ("(416) 555-0199", "CA", "+14165550199"),
    ("+49 30 1234567", "US", "+49301234567"),      # written internationally: the country is not used
    ("00 44 20 7946 0018", "FR", "+442079460018"),  # French international prefix
    ("12", "US", None), ("call me", "US", None), ("030 1234567", None, None), ("030 1234567", "XX", None),
])
def test_normalise_phone_e164(phone, country, e164):
    assert normalise_phone(phone, country) == e164
    if e164:
        assert export.hash_or_none(normalise_phone(phone, country)) == sha(e164)


def test_names_keep_accents_and_apostrophes_per_platform():
    assert normalise_name("  O'Brien ") == "o'brien"             # Google: trimmed, lower case
    assert normalise_name("Mary   Ann") == "mary ann"
    assert letters_only("O'Brien") == "obrien"                  # Meta: no punctuation
    assert letters_only("José-María") == "josémaría"
    assert letters_only("Jose\u0301") == "josé"                  # decomposed accent: same hash as composed
    assert export.hash_or_none(letters_only("Jose\u0301")) == sha("josé")
    assert meta_zip("94107-1234", "US") == "94107" and meta_zip("SW1A 1AA", "GB") == "sw1a1aa"


@pytest.mark.parametrize("value, expected", [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+49 30 1", "'+49 30 1"), ("-2", "'-2"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("Müller", "Müller"), ("", ""), (7, 7), (None, None),
])
def test_neutralise_formula(value, expected):
    assert neutralise_formula(value) == expected


def test_sensitive_terms():
    assert sensitive_terms("Diabetes care buyers") == {"health": ["diabet"]}
    assert sensitive_terms("High income, low credit score") == {"financial": ["credit score", "income"]}
    assert sensitive_terms("Night owls in Richmond, fundamentally loyal") == {}


# ----------------------------------------------------------------- formats

CONTACT = {"customer_id": "C1", "email": " Zoé.O'Neil@Example.com ", "phone": "030 1234567",
           "first_name": " José ", "last_name": "O'Brien", "country": "de", "zip": "80331",
           "city": "München", "state": "BY"}


def test_google_row_vectors_and_partial_address():
    frame = pd.DataFrame([CONTACT, {**CONTACT, "zip": None, "phone": "nonsense"},
                          {**CONTACT, "email": "broken", "phone": None, "zip": None}])
    rows, usable = format_rows("google", frame)
    assert list(rows.columns) == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
    assert rows.iloc[0].tolist() == [sha("zoé.o'neil@example.com"), sha("+49301234567"), sha("josé"),
                                     sha("o'brien"), "DE", "80331"]
    # an invalid phone keeps the e-mail; an address without zip is left out as a whole
    assert rows.iloc[1].tolist() == [sha("zoé.o'neil@example.com"), None, None, None, None, None]
    assert usable.tolist() == [True, True, False]


def test_meta_tiktok_linkedin_rows():
    frame = pd.DataFrame([CONTACT])
    meta, _ = format_rows("meta", frame)
    assert list(meta.columns) == ["email", "phone", "fn", "ln", "ct", "st", "zip", "country"]
    assert meta.iloc[0].tolist() == [sha("zoé.o'neil@example.com"), sha("49301234567"), sha("josé"),
                                     sha("obrien"), sha("münchen"), sha("by"), sha("80331"), sha("de")]
    with_dob, _ = format_rows("meta", frame.assign(birth_year=1984, gender="Female"))
    assert with_dob[["doby", "gen"]].iloc[0].tolist() == [sha("1984"), sha("f")]
    tiktok, _ = format_rows("tiktok", frame.assign(email="Zoe+ads@Example.com"))
    assert tiktok.iloc[0].tolist() == [sha("zoe@example.com"), sha("49301234567")]
    linkedin, usable = format_rows("linkedin", frame)
    assert linkedin.iloc[0].tolist() == [sha("zoé.o'neil@example.com"), None, None, None, None, "DE", None]
    named, _ = format_rows("linkedin", frame.assign(email=None, first_name="=cmd"), include_pii=True)
    assert named.iloc[0][["firstname", "lastname"]].tolist() == ["'=cmd", "O'Brien"]


# ----------------------------------------------------------------- a small database

AS_OF = date(2025, 3, 31)


def person(i: int, segment: int, **overrides) -> dict:
    row = {"customer_id": f"C{i:05d}", "segment_id": segment, "probability": 0.9, "consent_ads": True,
           "email": f"User{i}@Example.com", "phone": f"(415) 555-{i % 10000:04d}", "first_name": "Zoé",
           "last_name": "D'Angelo", "country": "US", "zip": "94107", "city": "San Francisco", "state": "CA"}
    row.update(overrides)
    return row


def build_db(path: Path, people: list[dict], run_id: int = 1, as_of: date = AS_OF,
             names: dict[int, str] | None = None, lineage: dict[int, int] | None = None) -> Path:
    """Add one complete run (its segments, assignments) and upsert its people into customers."""
    frame = pd.DataFrame(people)
    with store.connect(path) as con:
        con.execute("INSERT INTO runs (run_id, created_at, as_of, window_days, status, n_customers, n_segments, "
                    "noise_share) VALUES (?, now(), ?, 30, 'complete', ?, 1, 0)", [run_id, as_of, len(frame)])
        for seg, size in frame["segment_id"].value_counts().items():
            con.execute("INSERT INTO segments (run_id, segment_id, lineage_id, size, name, suggested_name, transition) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'new')",
                        [run_id, int(seg), None if seg == -1 else (lineage or {}).get(int(seg), int(seg) + 100),
                         int(size), (names or {}).get(int(seg)), f"Segment {seg}"])
        con.register("people", frame)
        con.execute(f"INSERT INTO assignments (run_id, customer_id, segment_id, probability, x, y) "
                    f"SELECT {int(run_id)}, customer_id, segment_id, probability, 0, 0 FROM people")
        con.execute("INSERT OR REPLACE INTO customers (customer_id, email, phone, first_name, last_name, country, zip, "
                    "city, state, consent_ads) SELECT customer_id, email, phone, first_name, last_name, country, zip, "
                    "city, state, consent_ads FROM people")
        con.unregister("people")
    return path


@pytest.fixture
def small_db(db_file: Path) -> Path:
    """Segment 0: 120 members (10 consent false, 10 unknown, 20 with probability 0.3, 5 without
    any usable identifier); segment -1: 15 noise members."""
    people = [person(i, 0) for i in range(120)]
    for i in range(0, 10):
        people[i]["consent_ads"] = False
    for i in range(10, 20):
        people[i]["consent_ads"] = None
    for i in range(20, 40):
        people[i]["probability"] = 0.3
    for i in range(40, 45):
        people[i].update(email="not an email", phone="123", zip=None)
    people += [person(i, -1, probability=0.0) for i in range(120, 135)]
    return build_db(db_file, people, names={0: "Weekend =HYPERLINK(x) fans"})


def test_guards_count_every_exclusion(small_db):
    plan = plan_export(small_db, 1, [0, -1], "google", min_size=50)
    assert plan.excluded == {"noise": 15, "consent_false": 10, "consent_unknown": 10,
                             "low_probability": 0, "no_identifier": 5}
    assert plan.n_candidates == 135 and plan.n_rows == 95 and plan.ok
    kept = set(plan.customer_ids)
    assert not kept & {f"C{i:05d}" for i in range(0, 20)}          # consent false or unknown
    assert not kept & {f"C{i:05d}" for i in range(40, 45)}         # no usable identifier
    assert not kept & {f"C{i:05d}" for i in range(120, 135)}       # noise
    assert sha("user0@example.com") not in set(plan.rows["Email"])  # consent false: not even hashed
    assert any("noise" in w for w in plan.warnings)


def test_file_name_comes_from_the_segment_names_and_the_snapshot_date(small_db):
    plan = plan_export(small_db, 1, [0], "google", min_size=1)
    assert plan.filename == f"google_weekend-hyperlink-x-fans_{plan.run_date:%Y-%m-%d}.csv"
    assert export.safe_export_path(Path("exports"), plan.filename).name == plan.filename
    both = plan_export(small_db, 1, [0, -1], "meta", min_size=1)
    assert both.filename.startswith("meta_weekend-hyperlink-x-fans+") and both.filename.endswith(".csv")


def test_unknown_consent_only_when_allowed_and_false_never(small_db):
    for platform in export.PLATFORMS:
        plan = plan_export(small_db, 1, [0], platform, allow_unknown_consent=True, min_size=1)
        kept = set(plan.customer_ids)
        assert {f"C{i:05d}" for i in range(10, 20)} <= kept, platform
        assert not kept & {f"C{i:05d}" for i in range(0, 10)}, platform
        assert plan.excluded["consent_false"] == 10 and plan.excluded["consent_unknown"] == 0


def test_probability_filter(small_db):
    plan = plan_export(small_db, 1, [0], "crm", min_probability=0.5)
    assert plan.excluded["low_probability"] == 20
    assert plan.n_rows == 120 - 20 - 20  # consent false/unknown, then weak members
    assert (plan.rows["membership_probability"].astype(float) >= 0.5).all()


def test_only_noise_is_refused(small_db):
    plan = plan_export(small_db, 1, [-1], "crm")
    assert not plan.ok and "noise" in plan.refusal and plan.n_rows == 0
    with pytest.raises(InputError, match="noise"):
        write_export(small_db, plan, small_db.parent / "noise.csv")
    assert not (small_db.parent / "noise.csv").exists()


@pytest.mark.parametrize("platform, minimum", [("google", 100), ("meta", 100), ("linkedin", 300), ("tiktok", 1000)])
def test_undersized_audience_refused_per_platform(db_file, platform, minimum):
    people = [person(i, 0) for i in range(minimum - 1)] + [person(i, 1) for i in range(minimum, 2 * minimum)]
    build_db(db_file, people)
    small = plan_export(db_file, 1, [0], platform)
    assert not small.ok and small.n_rows == minimum - 1
    assert f"needs at least {minimum:,}" in small.refusal and f"{minimum - 1:,} customers left" in small.refusal
    with pytest.raises(InputError, match="too small"):
        write_export(db_file, small, db_file.parent / "small.csv")
    assert not (db_file.parent / "small.csv").exists() and export.list_exports(db_file).empty
    assert plan_export(db_file, 1, [1], platform).ok  # exactly the minimum is enough


def test_exact_headers_no_bom_and_utf8(small_db, tmp_path):
    expected = {
        "google": "Email,Phone,First Name,Last Name,Country,Zip",
        "meta": "email,phone,fn,ln,ct,st,zip,country",
        "tiktok": "Email_SHA256,Phone_SHA256",
        "linkedin": "email,firstname,lastname,jobtitle,employeecompany,country,googleaid",
        "crm": "customer_id,segment_id,segment_name,lineage_id,membership_probability,run_id,run_date",
    }
    for platform, header in expected.items():
        plan = plan_export(small_db, 1, [0], platform, min_size=1)
        result = write_export(small_db, plan, tmp_path / f"{platform}.csv")
        data = result.path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf") and data == plan.to_bytes()
        assert data.decode("utf-8").split("\n")[0] == header
    crm = plan_export(small_db, 1, [0], "crm", include_pii=True)
    text = crm.to_bytes().decode("utf-8")
    assert text.split("\n")[0] == expected["crm"] + ",email,phone,first_name,last_name,country,zip,city,state"
    assert "Zoé" in text and "D'Angelo" in text and "San Francisco" in text


def test_formulas_neutralised_in_plain_files(small_db):
    with store.connect(small_db) as con:
        con.execute("UPDATE customers SET first_name = '=HYPERLINK(\"http://x\")', city = '@SUM(1)' "
                    "WHERE customer_id = 'C00050'")
    crm = plan_export(small_db, 1, [0], "crm", include_pii=True)
    parsed = list(csv.DictReader(io.StringIO(crm.to_bytes().decode("utf-8"))))
    row = next(r for r in parsed if r["customer_id"] == "C00050")
    assert row["first_name"] == "'=HYPERLINK(\"http://x\")" and row["city"] == "'@SUM(1)"
    assert row["segment_name"] == "Weekend =HYPERLINK(x) fans"  # inside the text: harmless
    for r in parsed:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in r.values())
    google = plan_export(small_db, 1, [0], "google", min_size=1).to_bytes().decode()
    assert "HYPERLINK" not in google  # hashed platforms carry the name only as a hash


def test_audit_row_matches_file(small_db, tmp_path):
    plan = plan_export(small_db, 1, [0], "meta", min_size=10)
    result = write_export(small_db, plan, tmp_path / "meta.csv")
    data = result.path.read_bytes()
    audit = export.list_exports(small_db)
    assert len(audit) == 1
    row = audit.iloc[0]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() == result.sha256
    assert row["n_rows"] == len(data.decode().strip().split("\n")) - 1 == plan.n_rows == 95
    assert row["excluded_by_reason"] == plan.excluded and row["n_excluded"] == 25
    assert (row["kind"], row["platform"], row["run_id"], row["segment_id"], row["path"]) == \
        ("full", "meta", 1, 0, str(tmp_path / "meta.csv"))
    with store.connect(small_db, read_only=True) as con:
        members = {r[0] for r in con.execute("SELECT customer_id FROM export_members WHERE export_id = 1").fetchall()}
    assert members == set(plan.customer_ids)


def _nothing_written(db: Path, folder: Path) -> None:
    assert export.list_exports(db).empty
    with store.connect(db, read_only=True) as con:
        assert store.table_count(con, "export_members") == 0
    assert [p.name for p in folder.iterdir()] == []  # no file, no temporary file left


def test_failed_rename_leaves_no_file_and_no_audit_row(small_db, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    plan = plan_export(small_db, 1, [0], "crm")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(export_write.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_export(small_db, plan, folder / "crm.csv")
    monkeypatch.undo()
    _nothing_written(small_db, folder)


def test_failed_audit_insert_leaves_no_file(small_db, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    plan = plan_export(small_db, 1, [0], "crm")
    monkeypatch.setattr(export_write, "_audit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("db gone")))
    with pytest.raises(RuntimeError, match="db gone"):
        write_export(small_db, plan, folder / "crm.csv")
    _nothing_written(small_db, folder)


def test_stale_plan_and_existing_file_are_refused(small_db, tmp_path, monkeypatch):
    plan = plan_export(small_db, 1, [0], "crm")
    with store.connect(small_db) as con:  # consent withdrawn after the plan was made
        con.execute("UPDATE customers SET consent_ads = false WHERE customer_id = 'C00050'")
    with pytest.raises(InputError, match="changed since this export was planned"):
        write_export(small_db, plan, tmp_path / "crm.csv")
    assert not (tmp_path / "crm.csv").exists() and export.list_exports(small_db).empty

    target = tmp_path / "crm.csv"
    target.write_bytes(b"old file")
    fresh = plan_export(small_db, 1, [0], "crm")
    with pytest.raises(InputError, match="already exists"):
        write_export(small_db, fresh, target)
    monkeypatch.setattr(export_write, "_audit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        write_export(small_db, fresh, target, overwrite=True)
    assert target.read_bytes() == b"old file"  # a failed overwrite puts the old file back
    monkeypatch.undo()
    result = write_export(small_db, fresh, target, overwrite=True)
    assert target.read_bytes() == fresh.to_bytes() and result.n_rows == 99


def test_deltas_across_two_runs(db_file, tmp_path):
    run1 = [person(i, 0) for i in range(150)]
    build_db(db_file, run1, lineage={0: 7})
    first = write_export(db_file, plan_export(db_file, 1, [0], "tiktok", min_size=100), tmp_path / "a.csv")
    assert first.previous_export_id is None and first.adds_path is None

    # run 2: customers 0-19 left the lineage, 150-179 joined, 20-24 withdrew consent
    run2 = [person(i, 3) for i in range(20, 180)]
    for p in run2[:5]:
        p["consent_ads"] = False
    build_db(db_file, run2, run_id=2, as_of=date(2025, 4, 30), lineage={3: 7})
    plan = plan_export(db_file, 2, [3], "tiktok", min_size=100)
    assert plan.previous_export_id == first.export_id
    result = write_export(db_file, plan, tmp_path / "b.csv")
    adds = pd.read_csv(result.adds_path)["Email_SHA256"]
    removes = pd.read_csv(result.removes_path)["Email_SHA256"]
    assert set(adds) == {sha(f"user{i}@example.com") for i in range(150, 180)}
    assert set(removes) == {sha(f"user{i}@example.com") for i in range(0, 25)}
    assert (result.n_adds, result.n_removes) == (30, 25)
    audit = export.list_exports(db_file).set_index("export_id")
    for kind, path in (("adds", result.adds_path), ("removes", result.removes_path)):
        row = audit[audit["kind"] == kind].iloc[0]
        assert row["parent_export_id"] == result.export_id and row["previous_export_id"] == first.export_id
        assert row["sha256"] == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    # another platform or lineage has its own history: no delta
    assert not plan_export(db_file, 2, [3], "crm").has_delta

    # the same audience again: the same full file, and no empty adds/removes files or audit rows for them
    before = len(export.list_exports(db_file))
    again = write_export(db_file, plan_export(db_file, 2, [3], "tiktok", min_size=100), tmp_path / "c.csv")
    assert again.previous_export_id == result.export_id and (again.n_adds, again.n_removes) == (0, 0)
    assert again.adds_path is None and again.removes_path is None
    assert sorted(p.name for p in tmp_path.glob("c*")) == ["c.csv"]
    assert Path(again.path).read_bytes() == Path(result.path).read_bytes()
    audit = export.list_exports(db_file)
    assert len(audit) == before + 1 and audit.iloc[0]["kind"] == "full"
    # over b.csv (--force), whose delta files of the earlier export lie beside it: they are replaced too (empty),
    # never left to read as this export's delta (the review)
    replaced = write_export(db_file, plan_export(db_file, 2, [3], "tiktok", min_size=100), tmp_path / "b.csv",
                            overwrite=True)
    assert (replaced.n_adds, replaced.n_removes) == (0, 0) and replaced.adds_path == result.adds_path
    assert len(pd.read_csv(replaced.adds_path)) == 0 and len(pd.read_csv(replaced.removes_path)) == 0


def test_unknown_run_segment_platform(small_db):
    with pytest.raises(NotFoundError, match="no run 9"):
        plan_export(small_db, 9, [0], "meta")
    with pytest.raises(NotFoundError, match=r"no segment 4 \(segments: -1, 0\)"):
        plan_export(small_db, 1, [4], "meta")
    with pytest.raises(InputError, match="unknown platform 'myspace'"):
        plan_export(small_db, 1, [0], "myspace")
    with pytest.raises(InputError, match="between 0 and 1"):
        plan_export(small_db, 1, [0], "meta", min_probability=1.5)


def test_sensitive_segment_name_warns(db_file):
    build_db(db_file, [person(i, 0) for i in range(120)], names={0: "Diabetes care"})
    plan = plan_export(db_file, 1, [0], "meta")
    assert plan.ok and any("health" in w and "Meta" in w for w in plan.warnings)


def test_migration_from_schema_1_keeps_exports(db_file):
    import duckdb

    con = duckdb.connect(str(db_file))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    con.execute(store.load_query("schema_migrate_v1"))
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute("INSERT INTO exports (export_id, created_at, run_id, segment_id, platform, n_rows, n_excluded, "
                "path, sha256) VALUES (1, now(), 1, 0, 'meta', 5, 0, 'x.csv', 'ab')")
    con.close()
    assert export.list_exports(db_file).empty  # read-only, not migrated: no schema-2 columns yet
    with store.connect(db_file) as con:
        assert con.execute("SELECT kind, n_rows FROM exports").fetchall() == [("full", 5)]
        assert store.table_count(con, "export_members") == 0
    assert export.list_exports(db_file)["export_id"].tolist() == [1]


def test_cli_export_json_and_exit_codes(small_db, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "segmentation", "--db", str(small_db), "export", "--run", "1", "--segment", "0"]
    done = subprocess.run(base + ["--platform", "crm", "--out", str(tmp_path / "c.csv"), "--json"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["n_rows"] == 100 and document["excluded"]["consent_unknown"] == 10
    assert document["sha256"] == hashlib.sha256((tmp_path / "c.csv").read_bytes()).hexdigest()
    refused = subprocess.run(base + ["--platform", "tiktok", "--out", str(tmp_path / "t.csv")],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert refused.returncode == 2 and "needs at least 1,000" in refused.stderr
    assert "@" not in refused.stderr and not (tmp_path / "t.csv").exists()  # no PII in messages


def test_demo_timeline_deltas(demo_runs_db, tmp_path):
    """On the stored two-snapshot demo: a lineage exported from both runs gives exact adds/removes."""
    with store.connect(demo_runs_db, read_only=True) as con:
        seg1, seg2 = con.execute(
            "SELECT s1.segment_id, s2.segment_id FROM segments s1 JOIN segments s2 USING (lineage_id) "
            "WHERE s1.run_id = 1 AND s2.run_id = 2 AND s1.segment_id >= 0 ORDER BY s2.size DESC LIMIT 1"
        ).fetchall()[0]
        members = {
            run: dict(con.execute(
                "SELECT a.customer_id, lower(trim(c.email)) FROM assignments a JOIN customers c USING (customer_id) "
                "WHERE a.run_id = ? AND a.segment_id = ? AND c.consent_ads", [run, seg]).fetchall())
            for run, seg in ((1, seg1), (2, seg2))
        }
        false_consent = con.execute(
            "SELECT count(*) FROM assignments a JOIN customers c USING (customer_id) "
            "WHERE a.run_id = 2 AND a.segment_id = ? AND c.consent_ads = false", [seg2]).fetchall()[0][0]
    first = write_export(demo_runs_db, plan_export(demo_runs_db, 1, [seg1], "meta"), tmp_path / "r1.csv")
    plan = plan_export(demo_runs_db, 2, [seg2], "meta")
    assert plan.excluded["consent_false"] == false_consent > 0 and plan.excluded["no_identifier"] == 0
    result = write_export(demo_runs_db, plan, tmp_path / "r2.csv")
    assert result.previous_export_id == first.export_id and result.n_rows == len(members[2])
    entered = set(members[2]) - set(members[1])
    exited = set(members[1]) - set(members[2])
    assert set(pd.read_csv(result.adds_path)["email"]) == {sha(members[2][c]) for c in entered}
    # exited customers still in the customers table: their hashed e-mail is in the removes file
    assert set(pd.read_csv(result.removes_path)["email"]) == {sha(members[1][c]) for c in exited}
    assert (result.n_adds, result.n_removes) == (len(entered), len(exited))


def test_a_file_with_plain_contact_data_is_readable_by_its_owner_only(small_db, tmp_path):
    """An analyst's walk: --include-pii files were written 0644, readable by anyone on the machine."""
    import os
    import stat

    umask = os.umask(0o022)  # a machine's usual: new files readable by everyone
    try:
        crm = write_export(small_db, plan_export(small_db, 1, [0], "crm", include_pii=True), tmp_path / "crm.csv")
        hashed = write_export(small_db, plan_export(small_db, 1, [0], "google", min_size=1), tmp_path / "google.csv")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(crm.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(hashed.path.stat().st_mode) == 0o644  # hashed identifiers: as the umask gives
