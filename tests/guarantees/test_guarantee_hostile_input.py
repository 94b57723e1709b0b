"""Hostile and odd input: arbitrary unicode, huge and tiny numbers, mixed date formats, very long
fields, SQL- and formula-like text. Imports either succeed with consistent counts or stop with
a clear InputError (nothing changed); export normalisation never fails and never leaks raw text
into a hashed file; user text reaches DuckDB only as bound parameters; export paths chosen in the
app stay in the export folder; uploads are size-limited.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segmentation.audiences import formats as ef
from segmentation.audiences import normalise as en
from segmentation.data import store
from segmentation.errors import InputError
from segmentation.audiences.export import safe_export_path
from segmentation.ingest.columns import COLUMNS, EVENT_TYPES
from segmentation.ingest.files import ingest_file
from segmentation.ingest.validate import MAX_UPLOAD_BYTES, check_upload_size
from tests.helpers import ROOT
from tests.guarantees.guarantee_tools import cli, one_line_error, small_run

NOW = datetime(2025, 6, 1, 12, 0)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SQL_LIKE = ["'; DROP TABLE events; --", "Robert'); DROP TABLE customers;--", "1 OR 1=1", "$as_of", "?",
            "\\", '"', "%s", "{0}", "' || (SELECT email FROM customers LIMIT 1) || '", "--", "/*"]
FORMULA_LIKE = ["=1+2", "+49 30 1234567", "-5", "@SUM(A1)", '=HYPERLINK("http://x.example","x")',
                "\t=cmd|' /C calc'!A0", "\r=1"]
# Any unicode but lone surrogates (not encodable) and NUL (a binary file, tested on its own).
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
ODD_TEXT = st.one_of(ANY_TEXT, st.sampled_from(SQL_LIKE + FORMULA_LIKE), st.just("x" * 20_000))
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**40, max_value=10**40).map(str),
    st.sampled_from(["", "1e308", "1e309", "-1e308", "5e-324", "1e-400", "-0", "NaN", "inf", "-Infinity", "1,5",
                     "１２", "0x1F", "12 €", " 7 ", "1_000"]),
    ANY_TEXT,
)
DATES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
TS_TEXT = st.one_of(
    DATES.map(lambda d: d.isoformat(sep=" ")),
    DATES.map(lambda d: d.date().isoformat()),
    DATES.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    DATES.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S+02:00")),
    DATES.map(lambda d: d.strftime("%d/%m/%Y")),
    DATES.map(lambda d: d.strftime("%Y%m%d")),
    DATES.map(lambda d: str(int(d.timestamp()))),
    st.sampled_from(["", "2024-02-30", "2024-13-01", "0000-00-00", "9999-12-31 23:59:59", "today", "1970-01-01"]),
    ANY_TEXT,
)
EVENT_ROW = st.tuples(ODD_TEXT, TS_TEXT, st.one_of(st.sampled_from(EVENT_TYPES), ODD_TEXT),
                      st.one_of(st.sampled_from(["web", "app", "Email", "STORE", ""]), ODD_TEXT),
                      ODD_TEXT, NUMBER_TEXT, NUMBER_TEXT)
# Rows that must import: valid timestamps and numbers, any text in the text columns.
GOOD_TS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2025, 5, 31)).map(
    lambda d: d.replace(microsecond=0))
PLAUSIBLE_ROW = st.tuples(
    ODD_TEXT.filter(lambda t: t.strip() != ""), GOOD_TS,
    st.one_of(st.sampled_from(EVENT_TYPES), ODD_TEXT.filter(lambda t: t.strip() != "")),
    ODD_TEXT, ODD_TEXT,
    st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32), st.integers(-10**15, 10**15)),
)
CUSTOMER_ROW = st.tuples(ODD_TEXT, *([ODD_TEXT] * 8),
                         st.one_of(st.sampled_from(["yes", "no", "Y", "n", "1", "0", "true", "F", ""]), ODD_TEXT))

# Labelled cells: each value is known to be valid or known to be invalid for its column (the rules of
# queries/ingest/ingest_08_problems_create_*.sql), so the outcome of a file made of them is known in advance.
# DuckDB's trim removes a subset of what Python's strip does: text Python does not strip to "" stays
# non-empty, and different Python-stripped ids stay different ids.
NONBLANK = ODD_TEXT.filter(lambda t: t.strip() != "")
BLANK = st.sampled_from(["", " ", "   "])
GOOD_NUMBER = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr),
                        st.integers(min_value=-10**40, max_value=10**40).map(str),
                        st.sampled_from(["1e308", "-1e308", "5e-324", "1e-400", "-0", " 7 ", "+3", ".5"]))
BAD_NUMBER = st.sampled_from(["NaN", "nan", "inf", "-Infinity", "1e309", "12 €", "1,5", "0x1F", "１２", "abc",
                              "=1+2", "1 OR 1=1", "'; DROP TABLE events; --"])
GOOD_TS_TEXT = st.tuples(GOOD_TS, st.sampled_from(["iso", "T", "Z", "+02:00", "date"])).map(
    lambda d: {"iso": d[0].isoformat(sep=" "), "T": d[0].isoformat(), "Z": d[0].isoformat() + "Z",
               "+02:00": d[0].isoformat() + "+02:00", "date": d[0].date().isoformat()}[d[1]])
BAD_TS_TEXT = st.one_of(
    BLANK, st.sampled_from(["2024-02-30", "2024-13-01", "0000-00-00", "today", "1700000000", "31/01/2025"]),
    DATES.map(lambda d: d.strftime("%d/%m/%Y")), DATES.map(lambda d: d.strftime("%Y%m%d")),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(1969, 12, 31, 23)).map(str),  # before 1970
    st.datetimes(min_value=datetime(2025, 6, 3), max_value=datetime(2100, 1, 1)).map(str),  # after now + 1 day
)
# column → (valid values, invalid values or None when any value is valid), in COLUMNS["events"] order
EVENT_CELLS = {
    "customer_id": (NONBLANK, BLANK),
    "ts": (GOOD_TS_TEXT, BAD_TS_TEXT),
    "event_type": (st.one_of(st.sampled_from(EVENT_TYPES + ("Email Open", "EMAIL-OPEN", " Purchase ")), NONBLANK),
                   BLANK),
    "channel": (ODD_TEXT, None),
    "category": (ODD_TEXT, None),
    "amount": (st.one_of(BLANK, GOOD_NUMBER), BAD_NUMBER),  # blank: 0
    "quantity": (st.one_of(BLANK, GOOD_NUMBER), BAD_NUMBER),  # blank: unknown
}
GOOD_COUNTRY = st.sampled_from(["", "  ", "DE", "us", " gb ", "Fr"])
BAD_COUNTRY = st.sampled_from(["DEU", "X", "12", "D E", "Deutschland", "ü1", "=1+2", "'; DROP TABLE customers; --"])
GOOD_CONSENT = st.sampled_from(["", "yes", "no", "Y", "n", "1", "0", "true", "F", " Yes ", "FALSE", "t"])
BAD_CONSENT = st.sampled_from(["maybe", "ja", "2", "yes please", "none", "=1+2", "'; DROP TABLE customers; --"])
# Files: "valid" (every row valid), "mixed" (valid and invalid rows) or "any" (also rows of arbitrary
# text, whose validity is not known: verdict None).
FILE_MODES = st.sampled_from(["valid", "mixed", "any"])


def _verdicts(draw, mode: str, n: int) -> list[bool | None]:
    choices = {"valid": [True], "mixed": [True, False], "any": [True, False, None]}[mode]
    return [draw(st.sampled_from(choices)) for _ in range(n)]


@st.composite
def events_file(draw):
    """(rows, verdicts): rows of an events file and, for each, True (valid), False (invalid) or None."""
    verdicts = _verdicts(draw, draw(FILE_MODES), draw(st.integers(min_value=1, max_value=6)))
    spoilable = [column for column, (_, bad) in EVENT_CELLS.items() if bad is not None]
    rows = []
    for valid in verdicts:
        if valid is None:
            rows.append(draw(EVENT_ROW))
            continue
        spoil = set() if valid else set(draw(st.lists(st.sampled_from(spoilable), min_size=1, unique=True)))
        rows.append(tuple(draw(bad if column in spoil else good) for column, (good, bad) in EVENT_CELLS.items()))
    return rows, verdicts


@st.composite
def customers_file(draw):
    """(rows, verdicts) of a customers file. Invalid: a blank id, an id repeated from an earlier row (with
    spaces around it or not), a country that is not two letters, a consent that is not yes/no. Rows of
    arbitrary text keep a fresh id, so that they cannot turn a valid row into a repeat."""
    verdicts = _verdicts(draw, draw(FILE_MODES), draw(st.integers(min_value=1, max_value=6)))
    used: set[str] = set()
    earlier: list[str] = []

    def fresh_id() -> str:
        customer_id = draw(NONBLANK)
        while customer_id.strip() in used:  # a new id, whatever text was drawn
            customer_id += "#"
        used.add(customer_id.strip())
        earlier.append(customer_id)
        return customer_id

    rows = []
    for valid in verdicts:
        if valid is None:
            rows.append((fresh_id(), *draw(CUSTOMER_ROW)[1:]))
            continue
        spoil = set() if valid else set(draw(st.lists(st.sampled_from(["customer_id", "country", "consent_ads"]),
                                                      min_size=1, unique=True)))
        if "customer_id" not in spoil:
            customer_id = fresh_id()
        elif earlier and draw(st.booleans()):
            customer_id = draw(st.sampled_from(earlier)) + draw(st.sampled_from(["", " ", "  "]))
        else:
            customer_id = draw(BLANK)
        email, phone, first_name, last_name = (draw(ODD_TEXT) for _ in range(4))
        country = draw(BAD_COUNTRY if "country" in spoil else GOOD_COUNTRY)
        zip_code, city, state = (draw(ODD_TEXT) for _ in range(3))
        consent = draw(BAD_CONSENT if "consent_ads" in spoil else GOOD_CONSENT)
        rows.append((customer_id, email, phone, first_name, last_name, country, zip_code, city, state, consent))
    return rows, verdicts


def _write_csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _fresh() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    store.ensure_schema(con)
    return con


def _count(con, table: str) -> int:
    return store.table_count(con, table)


# The documented refusal of a file with bad rows (README, "All or nothing"): one line naming the file and
# the number of bad rows, saying nothing was imported and how to import the good rows anyway.
REFUSAL = re.compile(r"(?P<file>.+): (?P<n>[\d,]+) bad rows?, nothing was imported — .+\. Fix the file, or use "
                     r"--quarantine to import the good rows and keep the bad ones in the rejects table\.")


def _check_import(con, path: Path, kind: str, verdicts: list[bool | None], quarantine: bool) -> None:
    """Import ``path``, whose rows are valid (True), invalid (False) or unknown (None), and check the outcome.

    A file without invalid rows is imported whole, a file with invalid rows is refused with the
    documented message (nothing changed) unless ``quarantine``, which imports the valid rows and keeps
    the invalid ones in ``rejects``. Rows of unknown validity may go either way, with the counts adding up.
    """
    table = "events" if kind == "events" else "customers"
    n_rows, n_bad, n_unknown = len(verdicts), verdicts.count(False), verdicts.count(None)
    try:
        result = ingest_file(con, path, kind=kind, quarantine=quarantine, now=NOW)
    except InputError as exc:
        message = str(exc)
        assert not quarantine and n_bad + n_unknown > 0, f"a valid file was refused: {message}"
        refusal = REFUSAL.fullmatch(message)
        assert refusal and refusal["file"] == str(path) and "\n" not in message, message
        assert n_bad <= int(refusal["n"].replace(",", "")) <= n_bad + n_unknown, (message, verdicts)
        assert [_count(con, t) for t in (table, "ingests", "rejects")] == [0, 0, 0]
        event("refused: a file with bad rows" if n_bad else "refused: a file with rows of arbitrary text")
        return
    event("imported whole" if result.n_rejected == 0 else "imported with rows quarantined")
    assert quarantine or n_bad == 0, f"a file with {n_bad} bad rows was imported"
    assert n_bad <= result.n_rejected <= n_bad + n_unknown, (result, verdicts)
    assert result.n_rows + result.n_rejected == n_rows
    assert _count(con, table) == result.n_rows
    assert _count(con, "rejects") == result.n_rejected
    assert _count(con, "ingests") == 1
    if kind == "events" and result.n_rows:
        stored = con.execute("SELECT min(ts), max(ts), bool_and(isfinite(amount)) FROM events").fetchall()[0]
        assert stored[0] >= datetime(1970, 1, 1) and stored[1] <= datetime(2025, 6, 2, 12, 0) and stored[2]


@SETTINGS
@given(file=events_file(), quarantine=st.booleans())
def test_any_events_file_imports_with_consistent_counts_or_says_why(tmp_path_factory, file, quarantine):
    rows, verdicts = file
    path = _write_csv(tmp_path_factory.mktemp("events") / "events.csv", COLUMNS["events"], rows)
    con = _fresh()
    try:
        _check_import(con, path, "events", verdicts, quarantine)
    finally:
        con.close()


@SETTINGS
@given(rows=st.lists(PLAUSIBLE_ROW, min_size=1, max_size=6), ts_style=st.sampled_from(["iso", "T", "Z", "+02:00"]))
def test_any_text_in_valid_events_is_imported_and_stored_verbatim(tmp_path_factory, rows, ts_style):
    def ts_text(d: datetime) -> str:
        return {"iso": d.isoformat(sep=" "), "T": d.isoformat(), "Z": d.isoformat() + "Z",
                "+02:00": d.isoformat() + "+02:00"}[ts_style]

    written = [(cid, ts_text(ts), etype, channel, category, repr(amount)) for cid, ts, etype, channel, category, amount
               in rows]
    path = _write_csv(tmp_path_factory.mktemp("plausible") / "events.csv", COLUMNS["events"][:6], written)
    con = _fresh()
    try:
        result = ingest_file(con, path, now=NOW)
        trim = lambda text: con.execute("SELECT nullif(trim($t), '')", {"t": text}).fetchall()[0][0]  # noqa: E731
        stored = con.execute("SELECT customer_id, ts, category, amount FROM events").fetchall()
        shift = {"Z": 0, "+02:00": -2}.get(ts_style, 0)  # offsets are converted to UTC
        expected = [(trim(cid), ts + timedelta(hours=shift), trim(category), float(amount))
                    for cid, ts, _, _, category, amount in rows]
        assert result.n_rows == len(rows) and sorted(stored, key=repr) == sorted(expected, key=repr)
    finally:
        con.close()


@SETTINGS
@given(file=customers_file(), quarantine=st.booleans())
def test_any_customers_file_imports_with_consistent_counts_or_says_why(tmp_path_factory, file, quarantine):
    rows, verdicts = file
    path = _write_csv(tmp_path_factory.mktemp("customers") / "customers.csv", COLUMNS["customers"], rows)
    con = _fresh()
    try:
        _check_import(con, path, "customers", verdicts, quarantine)
    finally:
        con.close()


def _blank_in_duckdb(text: str) -> bool:
    """Is ``text`` empty once trimmed as the import trims it (DuckDB's trim)?"""
    return duckdb.execute("SELECT nullif(trim($t), '') IS NULL", {"t": text}).fetchall()[0][0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(
    st.one_of(st.integers(min_value=-2**63, max_value=2**63 - 1), ANY_TEXT),
    st.one_of(DATES, st.none()),
    st.floats(allow_nan=True, allow_infinity=True, width=64)), min_size=1, max_size=6),
    quarantine=st.booleans())
def test_any_parquet_events_file_imports_or_says_why(tmp_path_factory, values, quarantine):
    frame = pd.DataFrame({"customer_id": [v[0] for v in values], "ts": [v[1] for v in values],
                          "event_type": "purchase", "amount": [v[2] for v in values]})
    frame["customer_id"] = frame["customer_id"].astype(str)
    path = tmp_path_factory.mktemp("parquet") / "events.parquet"
    frame.to_parquet(path, index=False)
    # Every cell is typed, so each row's validity is known exactly: a blank id, no timestamp, one before
    # 1970 or after now + 1 day, an infinite amount. (pandas writes NaN as a missing amount: stored as 0.)
    latest = NOW + timedelta(days=1)
    verdicts = [not (_blank_in_duckdb(str(cid)) or ts is None or not datetime(1970, 1, 1) <= ts <= latest
                     or math.isinf(amount)) for cid, ts, amount in values]
    con = _fresh()
    try:
        _check_import(con, path, "events", verdicts, quarantine)
    finally:
        con.close()


def test_a_file_with_nul_bytes_is_refused_as_binary(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b"customer_id,ts,event_type\nc\x001,2025-01-01,view\n")
    con = _fresh()
    with pytest.raises(InputError, match=r"binary content \(NUL bytes\), not a CSV text file"):
        ingest_file(con, path, now=NOW)
    assert _count(con, "events") == 0


def test_mixed_date_formats_are_refused_naming_rows_and_values_unless_quarantined(tmp_path):
    rows = [("a", "2025-01-31 10:00:00", "view"), ("b", "31/01/2025", "view"), ("c", "2025-01-31T10:00:00Z", "view"),
            ("d", "20250131", "view")]
    path = _write_csv(tmp_path / "events.csv", ("customer_id", "ts", "event_type"), rows)
    con = _fresh()
    with pytest.raises(InputError) as caught:
        ingest_file(con, path, now=NOW)
    assert "column 'ts': unparseable timestamp" in str(caught.value)
    assert "in 2 rows (rows 2, 4): '31/01/2025', '20250131'" in str(caught.value)
    result = ingest_file(con, path, quarantine=True, now=NOW)
    assert (result.n_rows, result.n_rejected) == (2, 2)
    assert con.execute("SELECT list(ts ORDER BY customer_id) FROM events").fetchall()[0][0] == [
        datetime(2025, 1, 31, 10, 0), datetime(2025, 1, 31, 10, 0)]


# ----------------------------------------------------------------------------- export normalisation
VALUES = st.one_of(st.none(), ODD_TEXT, st.integers(), st.floats(allow_nan=True))
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@SETTINGS
@given(value=VALUES)
def test_normalisers_never_fail_and_are_idempotent(value):
    for normalise in (en.normalise_email, en.normalise_email_tiktok, en.normalise_country, en.normalise_name,
                      en.letters_only, en.normalise_zip, en.normalise_gender):
        out = normalise(value)
        assert out is None or (isinstance(out, str) and out == out.strip() and out), (normalise, value, out)
        if out is not None and normalise is not en.normalise_gender:
            assert normalise(out) == out, (normalise.__name__, value, out)
    email = en.normalise_email(value)
    if email is not None:
        assert email == email.lower() and email.count("@") == 1 and not re.search(r"\s", email)
    year = en.normalise_birth_year(value)
    assert year is None or (len(year) == 4 and 1900 <= int(year) <= date.today().year)


@SETTINGS
@given(phone=VALUES, country=st.one_of(st.none(), st.sampled_from(["DE", "us", " gb ", "FR", "XX", ""]), ANY_TEXT))
def test_phone_normalisation_gives_valid_e164_or_nothing(phone, country):
    e164 = en.normalise_phone(phone, country)
    if e164 is not None:
        assert re.fullmatch(r"\+[1-9]\d{6,14}", e164)
        assert en.normalise_phone(e164) == e164  # E.164 needs no country to be read again
        assert en.phone_digits(e164) == e164[1:]


@SETTINGS
@given(value=st.one_of(st.none(), ODD_TEXT, st.integers()))
def test_formula_cells_are_always_neutralised_and_nothing_else_changes(value):
    out = ef.neutralise_formula(value)
    if isinstance(value, str) and value.startswith(ef.FORMULA_PREFIXES):
        assert out == "'" + value
    else:
        assert out is value
    assert not (isinstance(out, str) and out.startswith(ef.FORMULA_PREFIXES))
    if isinstance(value, str):
        assert HEX64.match(en.sha256_hex(value))
        assert en.hash_or_none(value or None) == (en.sha256_hex(value) if value else None)


CONTACT = st.fixed_dictionaries({name: VALUES for name in ("email", "phone", "first_name", "last_name", "country",
                                                           "zip", "city", "state")})


@SETTINGS
@given(contacts=st.lists(CONTACT, min_size=1, max_size=5), include_pii=st.booleans(),
       segment_name=ODD_TEXT)
def test_every_platform_file_holds_only_hashes_or_safe_plain_cells(contacts, include_pii, segment_name):
    frame = pd.DataFrame(contacts).assign(
        customer_id=[f"c{i}" for i in range(len(contacts))], segment_id=1, lineage_id=4, probability=0.5,
        run_id=3, run_date=date(2025, 2, 28), segment_name=segment_name)
    raw = {str(v).strip().lower() for c in contacts for v in c.values() if isinstance(v, str) and len(v.strip()) > 3}
    for platform, spec in ef.PLATFORMS.items():
        rows, usable = ef.format_rows(platform, frame, include_pii=include_pii)
        assert len(rows) == len(usable) == len(frame)
        for column in rows.columns:
            for cell in rows[column]:
                if cell is None:
                    continue
                if column in spec.hashed_columns:
                    assert HEX64.match(cell), (platform, column, cell)
                else:
                    assert isinstance(cell, str) and not cell.startswith(ef.FORMULA_PREFIXES), (platform, column, cell)
        if platform in ("meta", "tiktok"):  # hashed platforms: no contact text in the clear
            assert not any(str(c).lower() in raw for c in rows.to_numpy().ravel() if c is not None)
        if platform == "linkedin" and not include_pii:
            assert rows["firstname"].isna().all() and rows["lastname"].isna().all()
        if platform == "crm" and not include_pii:
            assert list(rows.columns) == list(spec.headers)


# ----------------------------------------------------------------------------- bound parameters
_SQL_CALLS = {"execute", "executemany", "sql", "query"}
# The only SQL built from text in Python: a table or view name (DuckDB cannot bind one) put into a
# fixed DROP / DELETE statement, quoted as an identifier. Its callers pass our own names only:
# ingest/read.py drop_scratch (SCRATCH_VIEWS / SCRATCH_TABLES), demo/write.py write_demo (DEMO_TABLES).
_AUDITED = {
    ("data/queries.py", "execute_named"): "fixed statements; the name quoted by quote_identifier",
}


def _formatted_sql_calls() -> set[tuple[str, str]]:
    """(file, function) of every DuckDB call whose SQL is an f-string, ``%``/``+`` or ``.format`` text."""
    found = set()
    for path in sorted((ROOT / "segmentation").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in _SQL_CALLS and call.args):
                    continue
                sql = call.args[0]
                built = (isinstance(sql, ast.JoinedStr)
                         or (isinstance(sql, ast.BinOp) and isinstance(sql.op, (ast.Mod, ast.Add)))
                         or (isinstance(sql, ast.Call) and isinstance(sql.func, ast.Attribute)
                             and sql.func.attr == "format"))
                if built:
                    found.add((str(path.relative_to(ROOT / "segmentation")), function.name))
    return found


def test_no_sql_is_built_from_text_outside_the_audited_helper():
    assert _formatted_sql_calls() == set(_AUDITED)


def test_scratch_and_table_names_interpolated_into_sql_are_constants_or_checked():
    from segmentation.ingest import read as ingest

    from segmentation.demo import write as demo

    assert all(re.fullmatch(r"[a-z_]+", n) for n in ingest.SCRATCH_TABLES + ingest.SCRATCH_VIEWS + demo.DEMO_TABLES)
    con = _fresh()
    with pytest.raises(ValueError, match="not a table name"):
        store.table_count(con, "runs; DROP TABLE runs")
    assert store.table_count(con, "runs") == 0


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_run(tmp_path_factory)


INJECTION = "'; DROP TABLE runs; --"


def test_sql_like_names_files_columns_and_paths_are_stored_verbatim_and_harm_nothing(small, tmp_path):
    db = small.copy_to(tmp_path / "db")
    named = json.loads(cli(db, "name", "--run", "1", "--segment", "0", "--name", INJECTION,
                           "--description", "Robert'); DROP TABLE segments;--", "--json").stdout)
    assert (named["name"], named["description"]) == (INJECTION, "Robert'); DROP TABLE segments;--")

    customers = _write_csv(tmp_path / "it's; DROP TABLE customers.csv", COLUMNS["customers"],
                           [("x'); DELETE FROM events; --", "o'hara@example.com", "", "Séan", "O'Hara; DROP", "IE",
                             "", "", "", "yes")])
    cli(db, "ingest", str(customers), "--kind", "customers")
    events = _write_csv(tmp_path / "events.csv", ("Kunde'; DROP TABLE events;--", "ts", "event_type"),
                        [("x'); DELETE FROM events; --", "2025-02-20 10:00:00", "view")])
    cli(db, "ingest", str(events), "--map", "customer_id=Kunde'; DROP TABLE events;--",
        "--set", "channel=web'); DROP TABLE runs;--")
    out = tmp_path / "aud'; DROP TABLE exports;--.csv"
    cli(db, "export", "--run", "1", "--segment", "0", "--platform", "crm", "--out", str(out))
    bad_date = cli(db, "run", "--as-of", "2025-02-28'; DROP TABLE runs;--", check=False)
    assert bad_date.returncode == 2
    assert one_line_error(bad_date) == ("error: --as-of \"2025-02-28'; DROP TABLE runs;--\" is not a date; "
                                        "use YYYY-MM-DD (e.g. 2025-12-31)")

    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchall()[0][0] == 1
        named_now = con.execute("SELECT name FROM segments WHERE run_id = 1 AND segment_id = 0").fetchall()
        assert named_now == [(INJECTION,)]
        assert con.execute("SELECT last_name, email FROM customers WHERE customer_id = $id",
                           {"id": "x'); DELETE FROM events; --"}).fetchall() == [("O'Hara; DROP", "o'hara@example.com")]
        assert con.execute("SELECT channel FROM events WHERE customer_id = $id",
                           {"id": "x'); DELETE FROM events; --"}).fetchall() == [("other",)]
        assert con.execute("SELECT count(*) FROM events WHERE ingest_id IS NULL").fetchall()[0][0] > 5000
        assert con.execute("SELECT path FROM exports").fetchall() == [(str(out),)]
        assert con.execute("SELECT file FROM ingests WHERE kind = 'customers'").fetchall() == [(str(customers),)]
    finally:
        con.close()
    # The segment's SQL-like name is a plain, formula-safe cell of the crm file.
    with open(out, newline="", encoding="utf-8") as handle:
        assert {row["segment_name"] for row in csv.DictReader(handle)} == {INJECTION}


# ----------------------------------------------------------------------------- export paths and uploads
@pytest.mark.parametrize("name", ["../outside.csv", "/etc/cron.d/x.csv", "sub/dir.csv", "..\\x.csv", "C:x.csv",
                                  ".hidden.csv", "..", "a\x00b.csv", "tab\there.csv", "audience.exe", "", "   ",
                                  "x" * 300 + ".csv"])
def test_export_names_that_would_leave_the_folder_or_hide_are_refused(tmp_path, name):
    with pytest.raises(InputError):
        safe_export_path(tmp_path, name)


def test_export_names_resolve_inside_the_folder_and_get_csv(tmp_path):
    assert safe_export_path(tmp_path, "Night owls") == tmp_path.resolve() / "Night owls.csv"
    assert safe_export_path(tmp_path, " meta_run3_segment2.csv ") == tmp_path.resolve() / "meta_run3_segment2.csv"
    assert safe_export_path(tmp_path, "Café crème.CSV") == tmp_path.resolve() / "Café crème.CSV"
    (tmp_path / "link.csv").symlink_to("/etc/passwd")  # a link planted in the folder does not lead out
    with pytest.raises(InputError, match="would be written outside the export folder"):
        safe_export_path(tmp_path, "link.csv")


@SETTINGS
@given(name=st.text(max_size=60))
def test_any_export_name_stays_in_the_folder_or_is_refused(tmp_path_factory, name):
    folder = tmp_path_factory.mktemp("exports")
    try:
        path = safe_export_path(folder, name)
    except InputError:
        return
    assert path.parent == folder.resolve() and path.suffix.lower() == ".csv" and not path.name.startswith(".")


def test_uploads_are_size_limited_with_a_clear_message():
    check_upload_size(MAX_UPLOAD_BYTES)  # exactly the limit is fine
    with pytest.raises(InputError) as caught:
        check_upload_size(250 * 1024 * 1024, name="events.csv")
    assert str(caught.value) == ("events.csv: the file is 250.0 MB, more than the 200 MB an upload may have; import "
                                 "it from the command line instead (python -m segmentation ingest FILE), which reads "
                                 "files of any size")
    with pytest.raises(InputError, match=r"^crm.csv: the file is empty \(0 bytes\)"):
        check_upload_size(0, name="crm.csv")
    with pytest.raises(InputError, match=r"the file is 2.0 MB, more than the 1 MB"):
        check_upload_size(2 * 1024 * 1024, limit_bytes=1024 * 1024)
