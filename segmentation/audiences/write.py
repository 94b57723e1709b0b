"""Writing a planned export: atomic files, one audit row per file, the export's members.

The files are first written to temporary files next to their destination (and
flushed to disk); then, inside one DuckDB transaction, the plan is checked to
still match the database, the audit rows and members are inserted, the files are
renamed into place (``os.replace``) and the transaction commits. Any failure
rolls the transaction back, removes the new files and puts back a file that was
overwritten, so there is never a half-written file nor a file without its audit
row (or the reverse). A process *killed* on the way cannot clean up after
itself: before it touches a file it records what it will create, replace and
back up in the database's journal (:mod:`segmentation.data.journal`), and the next
command undoes it (or, when the commit happened, removes only the leftovers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from segmentation.audiences import read as export_read
from segmentation.data import journal, store
from segmentation.errors import InputError
from segmentation.data.queries import load_query
from segmentation.data.store import fetch_row, transaction

if TYPE_CHECKING:
    from segmentation.audiences.export import ExportPlan

__all__ = ["ExportResult", "write_export", "record_download", "list_exports", "delta_paths", "DOWNLOADED_AS"]

#: The audit row's ``path`` of a file handed to a browser and kept nowhere on the server (:func:`record_download`).
DOWNLOADED_AS = "downloaded in the browser as "

_JSON_COLUMNS = ("excluded_by_reason", "segment_ids", "options")


def _database_file(db: Any) -> Path | None:
    """The database file behind ``db`` (a path, None for the default, or a connection)."""
    if isinstance(db, duckdb.DuckDBPyConnection):
        row = fetch_row(db, "database_select_file")
        return Path(row[0]) if row and row[0] else None
    return store.db_path(db)


@dataclass
class ExportResult:
    """What ``write_export`` wrote: the audience file and, when there was an earlier export
    of the same lineage to the same platform, its adds and removes files."""

    export_id: int
    platform: str
    path: Path | None  # None: downloaded, no file kept (:func:`record_download`)
    sha256: str
    n_rows: int
    n_excluded: int
    excluded: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    previous_export_id: int | None = None
    adds_path: Path | None = None
    adds_sha256: str | None = None
    n_adds: int | None = None
    removes_path: Path | None = None
    removes_sha256: str | None = None
    n_removes: int | None = None
    removes_without_identifier: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (paths as text)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def delta_paths(out_path: str | os.PathLike) -> tuple[Path, Path]:
    """Where the adds and removes files of ``out_path`` go: ``aud.csv`` -> ``aud.adds.csv``, ``aud.removes.csv``."""
    out = Path(out_path)
    return (out.with_name(f"{out.stem}.adds{out.suffix}"), out.with_name(f"{out.stem}.removes{out.suffix}"))


def _temp_path(final: Path) -> Path:
    """Where ``final`` is written first: a hidden file next to it, named after this process."""
    return final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")


def _backup_path(final: Path) -> Path:
    """Where a file that ``final`` replaces is kept until the commit."""
    return final.with_name(f".{final.name}.{os.getpid()}.replaced")


def _write_temp(temp: Path, payload: bytes, private: bool = False) -> Path:
    """``payload`` into the new file ``temp``, flushed to disk; ``private``: readable by its owner only (a file
    with plain contact data), whatever the umask would give."""
    try:
        with open(temp, "xb", opener=(lambda path, flags: os.open(path, flags, 0o600)) if private else None) as handle:
            if private:
                os.fchmod(handle.fileno(), 0o600)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


class _FileSwap:
    """Moves finished temporary files into place, and undoes it all on failure."""

    def __init__(self) -> None:
        self.installed: list[tuple[Path, Path | None]] = []  # (final, backup of what it replaced)

    def install(self, temp: Path, final: Path) -> None:
        backup = None
        if final.exists():
            backup = _backup_path(final)
            os.replace(final, backup)
        try:
            os.replace(temp, final)
        except BaseException:
            if backup is not None:
                os.replace(backup, final)
            raise
        self.installed.append((final, backup))

    def undo(self) -> None:
        for final, backup in reversed(self.installed):
            with contextlib.suppress(OSError):
                final.unlink(missing_ok=True)
                if backup is not None:
                    os.replace(backup, final)
        self.installed.clear()

    def commit(self) -> None:
        for _, backup in self.installed:
            if backup is not None:
                backup.unlink(missing_ok=True)


class StalePlan(InputError):
    """The plan's inputs (members, names, contact data, consent or earlier exports) changed before its write."""


def _check_unchanged(con: duckdb.DuckDBPyConnection, plan: ExportPlan) -> None:
    segments = export_read.segments(con, plan.run_id, plan.segment_ids)
    candidates = export_read.candidates(con, plan.run_id, plan.run_date, segments, plan.lookalikes)
    previous = export_read.previous_export(con, plan.platform, plan.lineage_key)
    if export_read.fingerprint(candidates, previous) != plan.fingerprint:
        raise StalePlan("the segment members or names, their contact data or consent, or the earlier exports "
                         "changed since this export was planned; plan it again (nothing was written)")


def _members(con: duckdb.DuckDBPyConnection, plan: ExportPlan, export_id: int) -> None:
    """The export's members (what the next export of its lineage to the platform is compared with)."""
    con.register("staged_export_members", pd.DataFrame({"customer_id": plan.customer_ids.astype(str)}))
    try:
        con.execute(load_query("export_members_insert"), {"export_id": export_id})
    finally:
        with contextlib.suppress(Exception):
            con.unregister("staged_export_members")


def record_download(db: Any, plan: ExportPlan) -> tuple[ExportResult, bytes]:
    """Record ``plan``'s audience file as handed to a browser, and return its bytes: its audit row (``path``
    :data:`DOWNLOADED_AS` and the file's name) and members, in one transaction, and no file on the server
    (a download leaves no copy of contact data behind; "Save on the server" keeps one, :func:`write_export`).
    No adds or removes files: the next export of the lineage is compared with these members all the same.

    Raises InputError when the plan was refused, :class:`~segmentation.audiences.export.StalePlan` when the data
    changed since it was made; nothing is recorded then.
    """
    if not plan.ok:
        raise InputError(f"export refused: {plan.refusal}")
    data = plan.to_bytes("full")
    digest = hashlib.sha256(data).hexdigest()
    with store.using(db, read_only=False) as con:
        with transaction(con):
            _check_unchanged(con, plan)
            export_id = int(fetch_row(con, "exports_next_id")[0])
            _audit(con, plan, export_id, "full", DOWNLOADED_AS + plan.filename, digest, plan.n_rows, plan.excluded,
                   None, datetime.now())
            _members(con, plan, export_id)
    return ExportResult(export_id=export_id, platform=plan.platform, path=None, sha256=digest, n_rows=plan.n_rows,
                        n_excluded=plan.n_excluded, excluded=dict(plan.excluded), warnings=list(plan.warnings),
                        previous_export_id=plan.previous_export_id,
                        removes_without_identifier=plan.removes_without_identifier), data


def _audit(con: duckdb.DuckDBPyConnection, plan: ExportPlan, export_id: int, kind: str, path: str,
           digest: str, n_rows: int, excluded: dict[str, int], parent: int | None, at: datetime) -> None:
    con.execute(load_query("exports_insert"), {
        "export_id": export_id, "created_at": at, "run_id": plan.run_id,
        "segment_id": plan.segment_ids[0], "platform": plan.platform, "n_rows": n_rows,
        "n_excluded": int(sum(excluded.values())), "path": path, "sha256": digest,
        "excluded_by_reason": json.dumps(excluded), "kind": kind, "lineage_key": plan.lineage_key,
        "segment_ids": json.dumps(plan.segment_ids), "parent_export_id": parent,
        "previous_export_id": plan.previous_export_id,
        "options": json.dumps({**plan.options, "warnings": plan.warnings}),
    })


def write_export(db: Any, plan: ExportPlan, out_path: str | os.PathLike, *,
                 overwrite: bool = False) -> ExportResult:
    """Write ``plan``'s file to ``out_path`` atomically, with its audit row (and delta files).

    Raises InputError when the plan was refused, a file exists and ``overwrite`` is
    False, or the data changed since the plan was made; nothing is written then.
    """
    if not plan.ok:
        raise InputError(f"export refused: {plan.refusal}")
    out = Path(out_path).expanduser().absolute()
    if out.is_dir():
        raise InputError(f"--out {out} is a folder; give a file name such as {out / plan.filename}")
    adds_path, removes_path = delta_paths(out)
    files: dict[str, Path] = {"full": out}
    # The same customers as last time: no empty adds/removes files and no audit rows for them, unless files of
    # an earlier export lie at those paths (replaced, with --force, so they never read as this export's delta).
    if plan.delta_files or (plan.has_delta and (adds_path.exists() or removes_path.exists())):
        files.update(adds=adds_path, removes=removes_path)
    existing = [str(p) for p in files.values() if p.exists()]
    if existing and not overwrite:
        raise InputError(f"{', '.join(existing)} already exists; choose another --out or pass --force to replace it")
    payloads = {kind: plan.to_bytes(kind) for kind in files}
    digests = {kind: hashlib.sha256(data).hexdigest() for kind, data in payloads.items()}
    counts = {"full": plan.n_rows, "adds": len(plan.adds) if plan.adds is not None else 0,
              "removes": len(plan.removes) if plan.removes is not None else 0}
    excluded = {"full": plan.excluded, "adds": {},
                "removes": {"no_identifier": plan.removes_without_identifier}}

    out.parent.mkdir(parents=True, exist_ok=True)
    temps = {kind: _temp_path(path) for kind, path in files.items()}
    # Written before any file is touched: a process killed from here on is undone by the next command.
    intent = journal.write_intent(_database_file(db), "export", [
        {"role": kind, "final": path, "temp": temps[kind], "backup": _backup_path(path), "sha256": digests[kind]}
        for kind, path in files.items()], run=plan.run_id, out=str(out))
    swap = _FileSwap()
    try:
        private = bool(plan.options.get("include_pii"))  # plain names, e-mails or phones: the owner's eyes only
        for kind, data in payloads.items():
            _write_temp(temps[kind], data, private)
        journal.crash_point("export:temps-written")
        with store.using(db, read_only=False) as con:
            try:
                with transaction(con):
                    _check_unchanged(con, plan)
                    export_id = int(fetch_row(con, "exports_next_id")[0])
                    at = datetime.now()
                    ids = {"full": export_id, "adds": export_id + 1, "removes": export_id + 2}
                    for kind, path in files.items():
                        _audit(con, plan, ids[kind], kind, str(path), digests[kind], counts[kind], excluded[kind],
                               None if kind == "full" else export_id, at)
                    _members(con, plan, export_id)
                    for kind, path in files.items():
                        swap.install(temps[kind], path)
                        del temps[kind]  # moved into place: no temporary file left to clean up
                    journal.crash_point("export:installed")
                journal.crash_point("export:after-commit")
            except BaseException:
                swap.undo()
                raise
        swap.commit()
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
        journal.remove_intent(intent)

    return ExportResult(
        export_id=export_id, platform=plan.platform, path=out, sha256=digests["full"],
        n_rows=plan.n_rows, n_excluded=plan.n_excluded, excluded=dict(plan.excluded),
        warnings=list(plan.warnings), previous_export_id=plan.previous_export_id,
        adds_path=files.get("adds"), adds_sha256=digests.get("adds"),
        n_adds=counts["adds"] if plan.has_delta else None,
        removes_path=files.get("removes"), removes_sha256=digests.get("removes"),
        n_removes=counts["removes"] if plan.has_delta else None,
        removes_without_identifier=plan.removes_without_identifier,
    )


_LIST_COLUMNS = ["export_id", "created_at", "run_id", "segment_id", "segment_ids", "lineage_key", "platform",
                 "kind", "n_rows", "n_excluded", "excluded_by_reason", "path", "sha256", "parent_export_id",
                 "previous_export_id", "options"]


def list_exports(db: Any = None) -> pd.DataFrame:
    """The audit history, newest first: one row per written file (kind full, adds or removes),
    with ``excluded_by_reason``, ``segment_ids`` and ``options`` as Python objects."""
    with store.using(db, read_only=True) as con:
        try:
            frame = con.execute(load_query("exports_list")).df()
        except (duckdb.CatalogException, duckdb.BinderException):
            return pd.DataFrame(columns=_LIST_COLUMNS)  # schema 1 (read-only, never migrated): no exports
    for column in _JSON_COLUMNS:
        frame[column] = frame[column].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return frame
