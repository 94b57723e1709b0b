"""Two processes editing segment names at once, many times: does every edit survive?

    .venv/bin/python -m benchmarks.two_editors_stress --db data/workbench.duckdb --trials 30 --hogs 3

The editors are `tests/guarantees/test_guarantee_concurrency.py`'s own (``_EDITOR``: two
processes, ``--edits`` edits each on two segments, a short connection per edit, as the command
line and the app make them). Each trial edits a fresh copy of ``--db`` (a database with at least
one run); ``--hogs`` CPU-bound processes run beside them, since the loss shows under load. A trial
fails when an editor exits with an error or the name history lacks any of the ``4 × --edits``
edits; a failed trial's copy is kept and the edits it lacks are printed.

Why (README v36, v37): that test once found 99 of its 100 history rows inside a CI run, and this
harness had an editor fail with DuckDB's "Could not read enough bytes from file". The cause (v37):
DuckDB 2.0.1 reads the file's headers before it takes its file lock, so a process that opens the
file while the other commits works from the headers before that commit, and its checkpoint drops
the other's write. ``segmentation/data/store.py`` now takes a lock of its own first.

``--strace`` runs the editors under strace and counts, per trial, the header reads (DuckDB's
12,288-byte read at offset 0) one editor made while the other held DuckDB's lock: each is a
chance to work from stale headers. Not a quality or timing figure: a reproduction.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.guarantees.guarantee_tools import env
from tests.guarantees.test_guarantee_concurrency import _EDITOR, _history, _segments
from tests.helpers import ROOT


def _hog(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _segment_ids(db: Path) -> tuple[int, int]:
    """The first two segments of run 1, which the editors edit (as the test picks them)."""
    ids = [int(s) for s in _segments(db)["segment_id"] if s != -1][:2]
    if len(ids) < 2:
        raise SystemExit(f"{db}: the editors edit run 1, which needs at least two segments")
    return ids[0], ids[1]


def _missing(history, edits: int, first: int, second: int) -> list[str]:
    rows = set(zip(history["changed_by"], history["segment_id"], history["name"], history["description"]))
    wanted = []
    for i in range(edits):
        wanted += [("A", first, "name", f"A name {i}"), ("B", first, "description", f"B description {i}"),
                   ("A", second, "name", f"A shared {i}"), ("B", second, "name", f"B shared {i}")]
    return [f"{who} {field} {value!r} on segment {seg}" for who, seg, field, value in wanted
            if not any(r[0] == who and r[1] == seg and r[2 if field == "name" else 3] == value for r in rows)]


_TRACED = "trace=openat,close,fcntl,pread64"
_LINE = re.compile(r"\d+\s+(\d+):(\d+):([\d.]+) (.*)")


def _holds_and_header_reads(trace: Path) -> tuple[list[tuple[float, float]], list[float]]:
    """From one editor's strace: when it held DuckDB's lock on the file, and when it read the headers."""
    holds, reads, files, since = [], [], set(), None
    for line in trace.read_text().splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        at, call = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), m[4]
        if (o := re.match(r'openat\(AT_FDCWD, "[^"]*db\.duckdb", [^)]*\) = (\d+)', call)):
            files.add(int(o[1]))
        elif (f := re.match(r"fcntl\((\d+), F_SETLK, \{l_type=F_WRLCK.*\) = 0", call)) and int(f[1]) in files:
            since = at
        elif (r := re.match(r"pread64\((\d+), .*, 12288, 0\) = 12288", call)) and int(r[1]) in files:
            reads.append(at)
        elif (c := re.match(r"close\((\d+)\)", call)) and int(c[1]) in files:
            files.discard(int(c[1]))
            if since is not None:
                holds.append((since, at))
                since = None
    return holds, reads


def stale_chances(folder: Path) -> int:
    """Header reads by one editor while the other held the file (both traces of a trial)."""
    a, b = (_holds_and_header_reads(folder / f"trace_{role}.txt") for role in "AB")
    return sum(any(s < t < e for s, e in holds) for (holds, _), (_, reads) in ((a, b), (b, a)) for t in reads)


def trial(db: Path, folder: Path, edits: int, strace: bool = False) -> tuple[bool, str]:
    copy = folder / "db.duckdb"
    shutil.copy(db, copy)
    first, second = _segment_ids(copy)
    start = folder / "go"
    editors = [subprocess.Popen((["strace", "-f", "-tt", "-e", _TRACED, "-o", str(folder / f"trace_{role}.txt")]
                                 if strace else []) +
                                [sys.executable, "-c", _EDITOR, str(copy), role, str(start), str(edits), str(first),
                                 str(second)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env=env()) for role in ("A", "B")]
    time.sleep(0.5)
    start.touch()
    errors = []
    for role, editor in zip("AB", editors):
        out, err = editor.communicate(timeout=600)
        if editor.returncode != 0 or out.strip() != "done":
            errors.append(f"editor {role}: {err.strip().splitlines()[-1] if err.strip() else 'no output'}")
    history = _history(copy)
    missing = _missing(history, edits, first, second)
    report = "; ".join(errors + [f"{len(history)} of {4 * edits} history rows"] + missing[:8] +
                       ([f"{stale_chances(folder)} header reads while the other held the file"] if strace else []))
    return not errors and not missing and len(history) == 4 * edits, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a database with a run (it is copied, never edited)")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--edits", type=int, default=25, help="edits per editor and segment")
    parser.add_argument("--hogs", type=int, default=3, help="CPU-bound processes beside the editors")
    parser.add_argument("--strace", action="store_true", help="run the editors under strace (slower, wider "
                        "windows) and count the header reads made while the other editor held the file")
    args = parser.parse_args()
    if args.strace and shutil.which("strace") is None:
        raise SystemExit("--strace needs the strace program (apt-get install -y strace)")
    hogs = [multiprocessing.Process(target=_hog, args=(24 * 3600,), daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    failed = 0
    keep = Path(tempfile.mkdtemp(prefix="two_editors_"))
    try:
        for number in range(args.trials):
            folder = keep / f"trial_{number}"
            folder.mkdir()
            ok, report = trial(args.db, folder, args.edits, args.strace)
            print(f"trial {number}: {'ok' if ok else 'FAILED'} ({report})", flush=True)
            if ok:
                shutil.rmtree(folder)
            else:
                failed += 1
    finally:
        for hog in hogs:
            hog.terminate()
    print(f"{failed} of {args.trials} trials failed; failed trials' copies kept in {keep}")


if __name__ == "__main__":
    main()
