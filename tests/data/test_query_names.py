"""queries/ keeps to its naming scheme (queries/README.md) and the code names only queries that exist.

* Every file is ``[ingest_NN_]<table>_<verb>[_<qualifier>]`` with a known table (or subject) and verb.
* Every query name the code passes to a query helper (``load_query``, ``fetch_row``, ``run_query``,
  the UI's ``query``...) is a file, and no name is made at run time; string constants that look like
  query names anywhere in the code are files too.
* The import's numbered steps are the files of ``segmentation.ingest.read.STEPS``, in its order; each
  file's header says which temporary tables it reads and creates, and an import runs them in order.
* The one place that puts a name into SQL text quotes it.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentation.data import store
from segmentation.data.queries import QUERIES_DIR, execute_named, load_query, query_names, query_path, quote_identifier
from segmentation.ingest import read as ingest_read
from segmentation.ingest.files import ingest_file
from tests.helpers import ROOT

AREAS = {"store", "ingest", "features", "runs", "exports", "ui", "demo"}
VERBS = {"select", "list", "count", "insert", "upsert", "update", "delete", "next", "create", "describe",
         "check", "migrate"}
# Subjects that are not stored tables (queries/README.md): the database as a whole, the migration
# scripts, an import option, the file an import reads.
SUBJECTS = {"database", "schema", "options", "csv", "parquet"}
# In import steps only: the scratch tables, without their ingest_ prefix.
STEP_SUBJECTS = {name.removeprefix("ingest_") for name in ingest_read.SCRATCH_TABLES if name.count("_") == 1}
_STEP = re.compile(r"ingest_(\d\d)_(.+)")
_CREATED = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+(?:TABLE|VIEW)\s+(\w+)|rejects_(?:table|scan)\s*=\s*'(\w+)'",
                      re.IGNORECASE)


def stored_tables() -> set[str]:
    """The tables the migration scripts create."""
    text = "".join(load_query(n) for n in query_names() if n.startswith("schema_migrate_"))
    return set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", text))


def scheme_problem(name: str) -> str | None:
    """Why ``name`` breaks the scheme ``[ingest_NN_]<table>_<verb>[_<qualifier>]``, or None."""
    if not re.fullmatch(r"[a-z0-9_]+", name):
        return "only lower-case letters, digits and _"
    step = _STEP.fullmatch(name)
    rest = step.group(2) if step else name
    subjects = stored_tables() | SUBJECTS | (STEP_SUBJECTS if step else set())
    table = max((t for t in subjects if rest.startswith(t + "_")), key=len, default=None)
    if table is None:
        return f"does not start with a table ({', '.join(sorted(subjects))})"
    words = rest[len(table) + 1:].split("_")
    if words[0] not in VERBS:
        return f"{words[0]!r} after the table {table!r} is not a verb ({', '.join(sorted(VERBS))})"
    if any(not w for w in words):
        return "empty word (double or trailing _)"
    return None


def test_the_scheme_checker_tells_good_names_from_bad():
    for good in ("runs_select", "runs_select_previous", "segments_select_of_run", "name_history_insert",
                 "segments_next_lineage_id", "ingest_09_bad_create", "demo_truth_select_at"):
        assert scheme_problem(good) is None, good
    for bad in ("run_get", "runs_list_", "segments_of_run", "assignments_of_run", "ui_map_points",
                "bad_create", "Runs_select", "lineage_next_id", "ingest_5_bad_create"):
        assert scheme_problem(bad) is not None, bad


@pytest.mark.parametrize("name", query_names())
def test_every_query_file_follows_the_naming_scheme(name):
    problem = scheme_problem(name)
    assert problem is None, f"queries/.../{name}.sql: {problem} (see queries/README.md)"
    area = query_path(name).parent
    assert area.parent == QUERIES_DIR and area.name in AREAS, f"{name}.sql is not in an area folder"
    if _STEP.fullmatch(name):
        assert area.name == "ingest", f"{name}.sql: numbered import steps live in queries/ingest/"


# ---------------------------------------------------------------------------- names used by the code
# Helper → position of its query-name argument.
HELPERS = {"load_query": 0, "query_path": 0, "fetch_row": 1, "run_query": 1, "_rows": 1, "_frame": 1,
           "events_query": 0, "read_query": 2, "query": 0}
SOURCES = [ROOT / "app.py"] + [p for d in ("segmentation", "tests", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))]


def _helper(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name == "query":  # the UI's common.query only (not pandas' or an index's .query)
        bare = isinstance(func, ast.Name)
        return name if bare or (isinstance(func.value, ast.Name) and func.value.id == "common") else None
    return name if name in HELPERS else None


def _names_in(node: ast.AST) -> tuple[list[str], bool]:
    """String constants a name argument can take, and whether it is made at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], False
    if isinstance(node, ast.IfExp):
        (a, da), (b, db) = _names_in(node.body), _names_in(node.orelse)
        return a + b, da or db
    made = isinstance(node, (ast.JoinedStr, ast.BinOp)) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format")
    return [], made


def used_query_names() -> tuple[dict[str, list[str]], list[str]]:
    """(query name → where the code passes it to a helper, places that make a name at run time)."""
    used: dict[str, list[str]] = {}
    made: list[str] = []
    for path in SOURCES:
        if path.name == "test_query_names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or (helper := _helper(node)) is None:
                continue
            position = HELPERS[helper]
            if len(node.args) <= position:
                continue
            names, dynamic = _names_in(node.args[position])
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            for name in names:
                used.setdefault(name, []).append(where)
            if dynamic:
                made.append(where)
    return used, made


def test_every_query_name_the_code_uses_has_a_file():
    used, made = used_query_names()
    assert len(used) > 50  # the scan finds the calls (a renamed helper would silently find none)
    missing = {name: places for name, places in used.items() if name not in query_names()}
    assert not missing, f"no queries/**/NAME.sql for: {missing}"
    assert not made, f"query names made at run time (write each name out, so it can be checked): {made}"


def test_string_constants_that_look_like_query_names_are_query_names():
    """Names kept in tuples or variables before a helper sees them (features/table.py, ingest/files.py)."""
    known = set(query_names())
    odd = []
    for path in SOURCES:
        if path.name == "test_query_names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value not in known and _looks_like_query(value):
                odd.append(f"{path.relative_to(ROOT)}:{node.lineno}: {value!r}")
    assert not odd, f"these look like query names but have no file: {odd}"


def _looks_like_query(value: str) -> bool:
    if _STEP.fullmatch(value):
        return True
    words = value.split("_")
    return scheme_problem(value) is None and len(words) >= 2 and any(
        value.startswith(t + "_" + v) for t in stored_tables() for v in VERBS)


def test_every_query_file_is_used_by_the_code():
    used, _ = used_query_names()
    constants = {node.value for path in SOURCES if path.name != "test_query_names.py"
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    unused = [name for name in query_names() if name not in used and name not in constants]
    assert not unused, f"query files nothing names: {unused}"


# ---------------------------------------------------------------------------- the import's steps
def test_import_steps_are_the_numbered_files_in_order():
    files = {n for n in query_names() if _STEP.fullmatch(n)}
    listed = [name for step in ingest_read.STEPS for name in step]
    assert sorted(listed) == sorted(files) and len(listed) == len(set(listed))
    for number, step in enumerate(ingest_read.STEPS, start=1):
        assert {int(_STEP.fullmatch(n).group(1)) for n in step} == {number}, step


@pytest.mark.parametrize("name", [n for step in ingest_read.STEPS for n in step])
def test_each_step_says_which_temporary_tables_it_reads_and_creates(name):
    lines = load_query(name).splitlines()
    number = _STEP.fullmatch(name).group(1)
    assert re.match(rf"-- Import step {number}\b", lines[0]), lines[0]
    header = re.fullmatch(r"-- Temporary tables read: (.+?)\. Created: (.+?)\.(?: Stored tables: .+\.)?", lines[1])
    assert header, f"{name}.sql line 2: '-- Temporary tables read: .... Created: ....'"
    # the names each list gives (notes in brackets aside)
    said_read, said_created = (set(re.findall(r"\bingest_[a-z_]+", re.sub(r"\(.*?\)", "", part)))
                               for part in header.groups())
    code = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
    created = {a or b for a, b in _CREATED.findall(code)}
    scratch = set(ingest_read.SCRATCH_TABLES + ingest_read.SCRATCH_VIEWS)
    mentioned = {word for word in re.findall(r"\bingest_[a-z_]+", code) if word in scratch}
    assert said_created == created, f"{name}.sql creates {sorted(created)}"
    assert said_read == mentioned - created, f"{name}.sql reads {sorted(mentioned - created)}"


NOW = datetime(2024, 6, 1, 12, 0)
EVENTS = ("customer_id,ts,event_type,channel,category,amount,quantity\n"
          "0001,20240102,view,web,shoes,,\n0001,20240102,purchase,web,shoes,59.90,1\n")


def test_an_import_runs_its_steps_in_order(tmp_path, monkeypatch):
    ran: list[str] = []
    real = ingest_read.load_query
    monkeypatch.setattr(ingest_read, "load_query", lambda name: ran.append(name) or real(name))
    events = tmp_path / "e.csv"
    events.write_text(EVENTS + "0002,bad,view,web,,,\n0003,20240103\n", encoding="utf-8")
    customers = tmp_path / "c.csv"
    customers.write_text("customer_id,country\n1,DE\n", encoding="utf-8")
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.table({"customer_id": ["1"], "ts": ["2024-01-01"], "event_type": ["view"]}), parquet)
    imports = [(events, dict(quarantine=True, ts_format="%Y%m%d")), (events, dict(quarantine=True, replace=True)),
               (customers, dict(kind="customers")), (customers, dict(kind="customers", replace=True)),
               (parquet, {})]
    seen: set[str] = set()
    with store.connect(tmp_path / "db.duckdb") as con:
        for path, options in imports:
            ran.clear()
            ingest_file(con, path, now=NOW, **options)
            numbers = [int(_STEP.fullmatch(n).group(1)) for n in ran]
            assert numbers == sorted(numbers) and len(numbers) == len(set(numbers)), ran
            seen.update(ran)
    assert seen == {n for step in ingest_read.STEPS for n in step}


# ---------------------------------------------------------------------------- names put into SQL text
def test_named_statements_quote_the_name():
    assert quote_identifier("events") == '"events"'
    assert quote_identifier('we"ird') == '"we""ird"'
    con = duckdb.connect()
    odd = 'x"; DROP TABLE keep; --'
    con.execute("CREATE TABLE keep AS SELECT 1 AS a")
    con.execute(f"CREATE TABLE {quote_identifier(odd)} AS SELECT 1 AS a")
    con.execute(f"CREATE TEMP VIEW {quote_identifier(odd + 'v')} AS SELECT 1 AS a")
    execute_named(con, "delete_all_rows", odd)
    assert con.execute(f"SELECT count(*) FROM {quote_identifier(odd)}").fetchall() == [(0,)]
    execute_named(con, "drop_view", odd + "v")
    execute_named(con, "drop_temp_table", "no_such_table")  # IF EXISTS
    assert con.execute("SELECT count(*) FROM keep").fetchall() == [(1,)]
    assert store.table_count(con, "keep") == 1
    with pytest.raises(KeyError):
        execute_named(con, "drop_everything", "keep")
