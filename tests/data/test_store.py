"""Store: schema creation and migration, short-lived connections, busy-file message."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import duckdb
import pytest

from segmentation.data import store
from segmentation.errors import StoreBusyError

CONTRACT_COLUMNS = {
    "events": ["customer_id", "ts", "event_type", "channel", "category", "amount", "quantity"],
    "customers": ["customer_id", "email", "phone", "first_name", "last_name", "country", "zip",
                  "city", "state", "consent_ads"],
    "runs": ["run_id", "created_at", "as_of", "window_days", "status", "n_customers", "n_segments",
             "noise_share", "params", "metrics"],
    "segments": ["run_id", "segment_id", "lineage_id", "size", "name", "suggested_name",
                 "description", "transition"],
    "assignments": ["run_id", "customer_id", "segment_id", "probability", "x", "y"],
    "transitions": ["from_run", "to_run", "from_segment", "to_segment", "kind", "overlap"],
    "exports": ["export_id", "created_at", "run_id", "segment_id", "platform", "n_rows",
                "n_excluded", "path", "sha256"],
    "demo_truth": ["customer_id", "month", "persona"],
}


def test_schema_has_contract_columns(db_file):
    with store.connect(db_file) as con:
        for table, expected in CONTRACT_COLUMNS.items():
            columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
            assert columns[: len(expected)] == expected, table


def test_schema_creation_is_idempotent(db_file):
    for _ in range(3):
        with store.connect(db_file) as con:
            assert store.ensure_schema(con) == store.SCHEMA_VERSION
    with store.connect(db_file, read_only=True) as con:
        versions = con.execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(version,) for version, _ in store.MIGRATIONS]  # each migration ran once


def test_read_only_on_missing_file_creates_schema(db_file):
    with store.connect(db_file, read_only=True) as con:
        assert store.table_count(con, "events") == 0
    assert db_file.exists()


def test_connections_are_short_lived(db_file):
    with store.connect(db_file) as con:
        con.execute("INSERT INTO demo_truth VALUES ('C1', DATE '2025-01-01', 'p')")
    # Closed on exit: another handle in this process can write the file.
    handle = duckdb.connect(str(db_file))
    assert handle.execute("SELECT count(*) FROM demo_truth").fetchone()[0] == 1
    handle.close()


def test_db_path_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGMENTATION_DB", str(tmp_path / "env.duckdb"))
    assert store.db_path() == tmp_path / "env.duckdb"
    assert store.db_path(tmp_path / "explicit.duckdb") == tmp_path / "explicit.duckdb"
    monkeypatch.delenv("SEGMENTATION_DB")
    assert store.db_path() == store.DEFAULT_DB


def test_locked_file_gives_clear_busy_message(db_file):
    with store.connect(db_file):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(db_file)!r})
            print("locked", flush=True)
            time.sleep(30)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreBusyError) as info:
            with store.connect(db_file, wait_seconds=0.5):
                pass
        message = str(info.value)
        assert str(db_file) in message and "busy" in message
        assert f"process {holder.pid}" in message
    finally:
        holder.kill()
        holder.wait()
    # Once the other process is gone the file opens again.
    with store.connect(db_file) as con:
        assert store.table_count(con, "runs") == 0


def _marker(db_file, pid: int) -> object:
    return db_file.with_name(f".{db_file.name}.writer-waiting-{pid}-1")


def test_readers_hold_back_while_another_process_writer_waits(db_file):
    """A writer-waiting marker of a live process makes read-only opens wait, until its give-up time."""
    import time

    with store.connect(db_file):
        pass
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        marker = _marker(db_file, other.pid)
        started = time.monotonic()  # before the marker's give-up time is set: the wait is at least 1 s
        marker.write_text(f"{time.time() + 1.0:.3f}\n")
        with store.connect(db_file, read_only=True, wait_seconds=5) as con:
            waited = time.monotonic() - started
            assert store.table_count(con, "runs") == 0
        assert waited >= 0.9  # held back (how soon after the give-up time it goes on: benchmarks/timings.py)
        # Past its give-up time the reader went on and removed the marker (had it waited out its own
        # 5 s instead, the marker would still be there).
        assert not marker.exists()

        # A marker left by a process that is gone holds nobody back and is cleared away (were it
        # honoured, the reader would wait its 5 s and leave the marker, whose give-up time is 60 s ahead).
        other.kill()
        other.wait()
        marker.write_text(f"{time.time() + 60:.3f}\n")
        with store.connect(db_file, read_only=True, wait_seconds=5):
            pass
        assert not marker.exists()
    finally:
        other.kill()
        other.wait()


def test_writer_kept_out_by_another_process_announces_itself_and_cleans_up(db_file):
    import threading

    with store.connect(db_file):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(db_file)!r}, read_only=True)
            print("reading", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    seen = []
    try:
        assert holder.stdout.readline().strip() == "reading"
        def write() -> None:
            with store.connect(db_file, wait_seconds=10) as con:
                con.execute("CHECKPOINT")

        writer = threading.Thread(target=write)
        writer.start()
        for _ in range(200):
            seen = sorted(p.name for p in db_file.parent.glob(f".{db_file.name}.writer-waiting-*"))
            if seen:
                break
            writer.join(0.02)
        holder.stdin.write("done\n")
        holder.stdin.flush()
        writer.join(30)
        assert not writer.is_alive()
    finally:
        holder.kill()
        holder.wait()
    assert len(seen) == 1 and seen[0].startswith(f".{db_file.name}.writer-waiting-{os.getpid()}-")
    assert not list(db_file.parent.glob(f".{db_file.name}.writer-waiting-*"))  # removed once in


_OUR_HOLDER = """
import sys, time
from pathlib import Path
from segmentation.data import store

db, read_only, stop = sys.argv[1], sys.argv[2] == "read", Path(sys.argv[3])
with store.connect(db, read_only=read_only) as con:
    print("holding", flush=True)
    while not stop.exists():
        time.sleep(0.01)
    if not read_only:
        con.execute("INSERT INTO demo_truth VALUES ('held', DATE '2025-01-01', 'p')")
print(time.time(), flush=True)  # when it let go of the file
"""


def _our_holder(db_file, mode: str, stop) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", _OUR_HOLDER, str(db_file), mode, str(stop)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_duckdb_is_not_asked_to_open_the_file_while_another_of_our_processes_writes_it(db_file, tmp_path,
                                                                                        monkeypatch):
    """DuckDB 2.0 reads a file's headers before it takes its lock: opened while another process
    commits, it works from the headers before that commit and its checkpoint drops the other's
    write (benchmarks/two_editors_stress.py found edits lost so). So our processes keep out of
    DuckDB's open altogether while one of them writes, and a writer kept out says it waits. Ours names
    the file by a symlink: the same file, so the same lock."""
    import threading
    import time

    with store.connect(db_file):
        pass
    link = tmp_path / "link.duckdb"
    link.symlink_to(db_file)
    asked, markers = [], []
    real_connect = duckdb.connect

    def recording_connect(*args, **kwargs):
        asked.append(time.time())
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(store.duckdb, "connect", recording_connect)
    stop = tmp_path / "stop"
    holder = _our_holder(db_file, "write", stop)
    try:
        def write() -> None:
            with store.connect(link, wait_seconds=30) as con:
                con.execute("INSERT INTO demo_truth VALUES ('waited', DATE '2025-01-01', 'p')")

        writer = threading.Thread(target=write)
        writer.start()
        for _ in range(100):  # the waiting writer announces itself to other processes' readers
            markers = list(db_file.parent.glob(f".{db_file.name}.writer-waiting-{os.getpid()}-*"))
            if markers:
                break
            time.sleep(0.01)
        time.sleep(0.5)
        stop.touch()
        released = float(holder.stdout.readline())
        writer.join(30)
        assert not writer.is_alive() and holder.wait(30) == 0
    finally:
        stop.touch()
        holder.kill()
        holder.wait()
    assert markers and asked and min(asked) >= released  # not one open (or failed try) before the holder was done
    with store.connect(db_file, read_only=True) as con:  # both writes are kept
        assert con.execute("SELECT customer_id FROM demo_truth ORDER BY customer_id").fetchall() == [
            ("held",), ("waited",)]


def test_readers_of_two_processes_read_at_once_and_a_writer_waits_for_both(db_file, tmp_path):
    import time

    with store.connect(db_file):
        pass
    stop = tmp_path / "stop"
    holder = _our_holder(db_file, "read", stop)
    try:
        started = time.monotonic()
        with store.connect(db_file, read_only=True, wait_seconds=5) as con:  # readers share the file
            assert store.table_count(con, "runs") == 0
        assert time.monotonic() - started < 2.0
        with pytest.raises(StoreBusyError) as info:
            with store.connect(db_file, wait_seconds=0.5):
                pass
        assert str(info.value) == (f"Database {db_file} is busy: another process (process {holder.pid}) is using "
                                   "it. Waited 0.5 s; try again when it has finished.")
    finally:
        stop.touch()
        holder.wait(30)
    with store.connect(db_file, wait_seconds=5) as con:  # the reader gone, the writer gets in
        assert store.table_count(con, "runs") == 0


def test_a_thread_waits_for_the_lock_no_longer_than_its_own_wait_while_another_thread_waits_longer(db_file,
                                                                                                   tmp_path):
    import threading
    import time

    with store.connect(db_file):
        pass
    stop = tmp_path / "stop"
    holder = _our_holder(db_file, "write", stop)
    patient_saw = []

    def patient() -> None:  # waits 4 s for the other process's lock, holding this process's place
        try:
            with store.connect(db_file, wait_seconds=4):
                pass
        except StoreBusyError as exc:
            patient_saw.append(exc)

    try:
        waiting = threading.Thread(target=patient)
        waiting.start()
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as info:
            with store.connect(db_file, wait_seconds=0.5):
                pass
        assert time.monotonic() - started < 2.0  # its own 0.5 s, not the other thread's 4 s
        assert str(info.value).startswith(f"Database {db_file} is busy: another process")
        waiting.join(30)
        assert len(patient_saw) == 1  # the patient one waited its 4 s out too
    finally:
        stop.touch()
        holder.wait(30)


def test_where_the_lock_file_cannot_be_locked_duckdbs_own_lock_is_used(db_file, monkeypatch):
    import errno

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(store.fcntl, "flock", no_locks)
    with store.connect(db_file) as con:
        con.execute("INSERT INTO demo_truth VALUES ('C1', DATE '2025-01-01', 'p')")
    with store.connect(db_file, read_only=True) as con:
        assert store.table_count(con, "demo_truth") == 1


def test_a_forked_child_does_not_keep_its_parents_lock(db_file):
    """The child of a fork gets a copy of the lock's descriptor; it closes it, so a writer of another
    process gets in once the parent has closed, while the child lives on."""
    with store.connect(db_file):
        pass
    with store.connect(db_file, read_only=True):
        child = os.fork()
        if child == 0:  # the child lives on a while, doing nothing with the database
            import time
            time.sleep(8)
            os._exit(0)
    try:
        writer = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            from segmentation.data import store
            with store.connect({str(db_file)!r}, wait_seconds=2) as con:
                con.execute("CHECKPOINT")
            print("in")
        """)], capture_output=True, text=True, timeout=60)
        assert writer.returncode == 0 and writer.stdout.strip() == "in", writer.stderr
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)


def test_transaction_commits_or_rolls_back_everything(db_file):
    from segmentation.data import store

    with store.connect(db_file) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        with store.transaction(con):
            con.execute("INSERT INTO t VALUES (1), (2)")
        with pytest.raises(ZeroDivisionError):
            with store.transaction(con):
                con.execute("INSERT INTO t VALUES (3)")
                1 / 0
        with pytest.raises(KeyboardInterrupt):  # an interrupt rolls back too
            with store.transaction(con):
                con.execute("INSERT INTO t VALUES (4)")
                raise KeyboardInterrupt
        assert con.execute("SELECT list(x ORDER BY x) FROM t").fetchone()[0] == [1, 2]
        with store.transaction(con):  # the connection is usable after a rollback
            con.execute("INSERT INTO t VALUES (5)")
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3
