"""Every SQL file in queries/ runs against a tiny hand-built database.

The test is generic: it reads each file's ``$named`` parameters and supplies a
value from ``_defaults()``; a new query whose parameter has no default fails
with a message saying which name to add there. Queries that read scratch
tables made by an earlier step (``ingest_raw``, ``ingest_bad``, ...) get them
by running the query file that creates them first; objects that Python code
makes (registered frames, projected views) have stand-ins in ``_STAND_INS``.
Each query runs on its own copy of the tiny database, so writes do not leak.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from segmentation.data import store
from segmentation.data.queries import load_query, query_names

AS_OF = date(2024, 3, 31)
COLUMNS = ["customer_id", "ts", "event_type", "channel", "category", "amount", "quantity"]

# customer_id, ts, event_type, channel, category, amount, quantity
EVENTS = [
    ("001", "2024-03-02 08:00:00", "view", "web", "gaming", 0.0, None),
    ("001", "2024-03-02 08:05:00", "cart", "web", "gaming", 0.0, 1.0),
    ("001", "2024-03-02 08:10:00", "purchase", "web", "gaming", 100.0, 1.0),
    ("001", "2024-03-31 23:59:59", "purchase", "app", "books", 50.0, 2.0),
    ("002", "2024-03-05 02:00:00", "email_open", "email", None, 0.0, None),
    ("002", "2024-03-05 02:01:00", "email_click", "email", None, 0.0, None),
    ("002", "2024-03-06 03:00:00", "view", "web", "books", 0.0, None),
    ("002", "2024-03-25 19:00:00", "purchase", "store", "books", 30.0, 1.0),
    ("002", "2024-03-26 19:00:00", "refund", "store", "books", 30.0, 1.0),
    ("003", "2024-03-15 18:00:00", "app_open", "app", None, None, None),
    ("003", "2024-03-16 18:00:00", "search", None, None, 0.0, None),
    ("004", "2024-01-10 10:00:00", "store_visit", "store", None, 0.0, None),
]

SCHEMA_TABLES = {
    "events", "customers", "demo_truth", "ingests", "rejects", "runs", "segments",
    "assignments", "transitions", "exports", "name_history", "schema_version",
}

_TEXT = ", ".join(f"c{i}" for i in range(len(COLUMNS)))
# Objects that Python code creates before a query reads them (not made by any query file).
_STAND_INS = {
    # ingest.py: the staged text columns under canonical names (events and customers columns)
    "ingest_input": (
        "CREATE OR REPLACE TEMP VIEW ingest_input AS SELECT raw_index, "
        + ", ".join(f"c{i} AS {name}" for i, name in enumerate(COLUMNS))
        + ", 'a@example.com' AS email, '+49 30 1234567' AS phone, 'Ada' AS first_name, "
          "'Lovelace' AS last_name, 'de' AS country, '10115' AS zip, 'Berlin' AS city, "
          "NULL::VARCHAR AS state, 'yes' AS consent_ads FROM ingest_raw"
    ),
    # export.py: the ranked lookalikes an export adds (customer_id, rank, similarity)
    "staged_lookalikes": ("CREATE OR REPLACE TEMP TABLE staged_lookalikes AS "
                          "SELECT '004' AS customer_id, 1 AS rank, 0.8 AS similarity"),
    # ingest.py: every column of a bad row as JSON
    "ingest_raw_json": ("CREATE OR REPLACE TEMP VIEW ingest_raw_json AS "
                        "SELECT raw_index, json_object('customer_id', c0, 'ts', c1) AS raw FROM ingest_raw"),
    # ingest.py: a Parquet file projected to text
    "ingest_parquet_source": (
        f"CREATE OR REPLACE TEMP VIEW ingest_parquet_source AS SELECT ordinality AS raw_index, {_TEXT} "
        "FROM (SELECT ordinality, "
        + ", ".join(f"CAST({name} AS VARCHAR) AS c{i}" for i, name in enumerate(COLUMNS))
        + " FROM read_parquet('{parquet}') WITH ORDINALITY)"  # views cannot take parameters
    ),
}
_STAGED = re.compile(r"^staged_([a-z_]+)$")  # results.py registers frames shaped like the table
_MISSING = re.compile(r"(?:Table|View) with name (\w+) does not exist")
_CREATES = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+|TEMPORARY\s+)?(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)"
    r"|rejects_table\s*=\s*'(\w+)'",
    re.IGNORECASE,
)
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
# On INSERT statements, ids that do not collide with the rows of the tiny database.
_WRITE_IDS = {"run_id": 99, "export_id": 99, "ingest_id": 99}


def _defaults(folder: Path) -> dict:
    """Sensible values for every parameter name used in queries/ (add new names here)."""
    now = datetime(2024, 4, 1, 9, 30)
    return {
        # snapshots
        "as_of": AS_OF, "window_days": 30, "half": None, "start": date(2024, 3, 1), "end": AS_OF, "every": 7,
        "seed": 0, "month": date(2024, 3, 1), "persona": "night owls", "lookback": 6, "run_ids": [1],
        # runs, segments, names
        "run_id": 1, "from_run": 1, "to_run": 1, "segment_id": 0, "from_segment": 0,
        "to_segment": 0, "lineage_id": 1, "name": "Night owls", "suggested_name": "Night owls",
        "description": "buys mostly at night", "who": "tester", "at": now, "created_at": now,
        "changed_by": "tester", "changed_at": now, "status": "complete", "size": 2,
        "transition": "new", "kind": "events", "overlap": 1.0, "probability": 0.9,
        "min_probability": 0.5, "customer_id": "001", "customer_ids": ["001", "003"], "n_customers": 3, "n_segments": 1,
        "noise_share": 0.0, "params": "{}", "metrics": "{}", "profile": "{}", "model_path": "",
        # imports
        "ingest_id": 1, "file": str(folder / "events.csv"), "path": str(folder / "events.csv"),
        "parquet": str(folder / "events.parquet"), "fingerprint": "0" * 64,
        "n_rows": len(EVENTS), "n_rejected": 0, "n_warnings": 0, "options": "{}",
        "row_number": 1, "reason": "test reason", "raw": "{}", "ts_format": "%Y-%m-%d %H:%M:%S",
        "delim": ",", "compression": "none", "names": [f"c{i}" for i in range(len(COLUMNS))],
        "n_columns": len(COLUMNS), "latest": now, "replaced_by": 2,
        "event_types": ["view", "search", "cart", "purchase", "refund", "email_open", "email_click",
                        "app_open", "store_visit", "other"],
        "channels": ["web", "app", "email", "store", "social", "ads", "other"],
        # exports
        "export_id": 1, "platform": "meta", "n_excluded": 0, "sha256": "0" * 64,
        "excluded_by_reason": "{}", "limit": 10, "offset": 0, "version": 1,
        "lineage_key": "1", "segment_ids": "[0]", "parent_export_id": 1, "previous_export_id": 1,
    }


def _code_only(sql: str) -> str:
    """The statement without comments and literal text (quotes and comments may contain '$' or "'")."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif sql[i] in "'\"":
            quote, i = sql[i], i + 1
            while i < n:
                if sql.startswith(quote * 2, i):
                    i += 2
                elif sql[i] == quote:
                    i += 1
                    break
                else:
                    i += 1
            out.append(" '' ")
        elif sql.startswith("$$", i):
            end = sql.find("$$", i + 2)
            i = n if end < 0 else end + 2
            out.append(" '' ")
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


def parameters(sql: str) -> list[str]:
    """``$named`` parameters of a statement, ignoring comments and string literals."""
    return sorted(set(_PARAMETER.findall(_code_only(sql))))


def _creators() -> dict[str, list[str]]:
    """Scratch table/view name -> the query files that create it (the schema excepted)."""
    made: dict[str, list[str]] = {}
    for name in query_names():
        if name == "schema_migrate_v1":
            continue
        for match in _CREATES.finditer(load_query(name)):
            made.setdefault((match.group(1) or match.group(2)).lower(), []).append(name)
    return made


class _Runner:
    """Runs a query with default parameters, creating the scratch objects it reads first."""

    def __init__(self, con: duckdb.DuckDBPyConnection, defaults: dict):
        self.con, self.defaults, self.creators = con, defaults, _creators()

    def values(self, sql: str) -> dict:
        names = parameters(sql)
        missing = [p for p in names if p not in self.defaults]
        if missing:
            raise LookupError(f"uses parameter(s) {missing} that tests/data/test_queries.py has no value for; "
                              "add a sensible default to _defaults()")
        values = {p: self.defaults[p] for p in names}
        if "path" in values and "read_parquet" in _code_only(sql):
            values["path"] = self.defaults["parquet"]
        if _code_only(sql).lstrip().upper().startswith("INSERT"):
            values.update({p: v for p, v in _WRITE_IDS.items() if p in values})
        return values

    def run(self, sql: str, root: str, depth: int = 0) -> duckdb.DuckDBPyConnection:
        """Run ``sql`` (for the query file ``root``), creating what it reads on the way."""
        values = self.values(sql)
        for _ in range(12):  # each retry creates one more missing object
            try:
                cursor = self.con.execute(sql, values) if values else self.con.execute(sql)
                if cursor.description is not None:
                    cursor.fetchall()
                return cursor
            except duckdb.CatalogException as exc:
                found = _MISSING.search(str(exc))
                if not found or depth > 6:
                    raise
                self.create(found.group(1), root, depth)
        raise RuntimeError("too many missing objects")

    def create(self, name: str, root: str, depth: int) -> None:
        staged = _STAGED.match(name)
        if name in _STAND_INS:
            self.run(_STAND_INS[name].format(parquet=self.defaults["parquet"]), root, depth + 1)
        elif staged:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {staged.group(1)}")
        elif name.lower() in self.creators:
            errors = []
            # several files may make it (ingest_07_staged_create_events / _customers): the closest name first
            words = set(root.split("_"))
            creators = sorted(self.creators[name.lower()], key=lambda c: -len(words & set(c.split("_"))))
            for creator in creators:
                try:
                    self.run(load_query(creator), root, depth + 1)
                    return
                except duckdb.Error as exc:
                    errors.append(f"{creator}: {exc}")
            raise RuntimeError(f"could not create {name}: " + " | ".join(errors))
        else:
            raise RuntimeError(f"no query file creates {name} and tests/data/test_queries.py has no stand-in; "
                               "add one to _STAND_INS")


def test_parameter_scanner():
    sql = ("-- the customer's $not_a_param\nSELECT '$nor_''this', $as_of /* $nope */,\n"
           "$as_of + $window_days, $1, \"$col\" -- it's $x\nFROM t WHERE a = $run_id")
    assert parameters(sql) == ["as_of", "run_id", "window_days"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, dict]:
    """A tiny database file (a dozen events, a run, segments) and the input files for imports."""
    folder = tmp_path_factory.mktemp("queries")
    frame = pd.DataFrame(EVENTS, columns=COLUMNS)
    frame.to_csv(folder / "events.csv", index=False)
    frame.to_parquet(folder / "events.parquet", index=False)
    path = folder / "tiny.duckdb"
    with store.connect(path) as con:
        frame["ts"] = pd.to_datetime(frame["ts"])
        con.register("new_events", frame)
        con.execute(f"INSERT INTO events ({', '.join(COLUMNS)}) SELECT * FROM new_events")
        con.unregister("new_events")
        con.execute("INSERT INTO customers (customer_id, email, country, consent_ads) VALUES "
                    "('001', 'a@example.com', 'DE', true), ('002', 'b@example.org', 'US', NULL)")
        con.execute("INSERT INTO ingests VALUES (1, TIMESTAMP '2024-04-01 09:00', 'events', 'events.csv', "
                    "'abc', 12, 0, 0, '{}')")
        con.execute("INSERT INTO runs (run_id, created_at, as_of, window_days, status, n_customers, n_segments, "
                    "noise_share) VALUES (1, TIMESTAMP '2024-04-01 09:00', DATE '2024-03-31', 30, 'complete', 3, 1, 0)")
        con.execute("INSERT INTO segments (run_id, segment_id, lineage_id, size, transition) VALUES "
                    "(1, 0, 1, 2, 'new'), (1, -1, NULL, 1, 'new')")
        con.execute("INSERT INTO assignments (run_id, customer_id, segment_id, probability, x, y) VALUES "
                    "(1, '001', 0, 0.9, 0.1, 0.2), (1, '002', 0, 0.8, 0.3, 0.4), (1, '003', -1, 0, 0.5, 0.6)")
        con.execute("INSERT INTO transitions VALUES (1, 1, 0, 0, 'survived', 1.0)")
        con.execute("INSERT INTO demo_truth VALUES ('001', DATE '2024-03-01', 'night owls')")
    return path, _defaults(folder)


@pytest.fixture
def runner(template, tmp_path):
    path, defaults = template
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(path, copy)
    con = duckdb.connect(str(copy))
    yield _Runner(con, defaults)
    con.close()


def test_schema_created_every_table(runner):
    con = runner.con
    tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert SCHEMA_TABLES <= tables
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == store.SCHEMA_VERSION
    # the migration is idempotent: running it again changes nothing
    assert store.ensure_schema(con) == store.SCHEMA_VERSION
    assert store.table_count(con, "events") == len(EVENTS)


@pytest.mark.parametrize("name", [n for n in query_names() if n != "schema_migrate_v1"])
def test_query_runs(runner, name):
    sql = load_query(name)
    try:
        runner.run(sql, name)
    except Exception as exc:  # one readable line: which file, which values, what went wrong
        pytest.fail(f"queries/{name}.sql failed on the tiny database: {exc}")


def test_feature_queries_on_tiny_database(runner):
    con, defaults = runner.con, runner.defaults
    params = {"as_of": defaults["as_of"], "window_days": defaults["window_days"], "half": None}
    customers = con.execute(load_query("events_select_customer_features"), params).df()
    assert customers["customer_id"].tolist() == ["001", "002", "003"]  # "004" is before the window
    assert not customers.isna().any().any()
    assert customers.set_index("customer_id").loc["001", ["frequency", "monetary", "active_days"]].tolist() \
        == [4, 150, 2]
    channels = con.execute(load_query("events_count_by_channel"), params).df()
    assert channels.groupby("customer_id")["n_events"].sum().to_dict() == {"001": 4, "002": 5, "003": 2}
    assert set(channels["channel"]) == {"web", "app", "email", "store", "unknown"}
    categories = con.execute(load_query("events_count_by_category"), params).df()
    assert categories.set_index(["customer_id", "category"])["n_events"].to_dict() == {
        ("001", "gaming"): 3, ("001", "books"): 1, ("002", "books"): 3}
    n_events, first, last = con.execute(load_query("events_select_range")).fetchone()
    assert (n_events, first.date(), last.date()) == (12, date(2024, 1, 10), date(2024, 3, 31))
