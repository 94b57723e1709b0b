"""Two processes editing segment names at once, many times: does every edit survive?

    .venv/bin/python -m benchmarks.two_editors_stress --db data/workbench.duckdb --trials 30 --hogs 3

The editors are `tests/guarantees/test_guarantee_concurrency.py`'s own (``_EDITOR``: two
processes, ``--edits`` edits each on two segments, a short connection per edit, as the command
line and the app make them). Each trial edits a fresh copy of ``--db`` (a database with at least
one run); ``--hogs`` CPU-bound processes run beside them, since the loss shows under load. A trial
fails when an editor exits with an error or the name history lacks any of the ``4 × --edits``
edits; a failed trial's copy is kept and the edits it lacks are printed.

Why (README v36): that test once found 99 of its 100 history rows inside a CI run, and this
harness, on a 12 MB database beside 3 hogs, had an editor fail once in about 30 trials with
DuckDB's "Could not read enough bytes from file": one process read the file while the other was
changing it. Not a quality or timing figure: a reproduction, for finding the cause.
"""

from __future__ import annotations

import argparse
import multiprocessing
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


def trial(db: Path, folder: Path, edits: int) -> tuple[bool, str]:
    copy = folder / "db.duckdb"
    shutil.copy(db, copy)
    first, second = _segment_ids(copy)
    start = folder / "go"
    editors = [subprocess.Popen([sys.executable, "-c", _EDITOR, str(copy), role, str(start), str(edits), str(first),
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
    report = "; ".join(errors + [f"{len(history)} of {4 * edits} history rows"] + missing[:8])
    return not errors and not missing and len(history) == 4 * edits, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a database with a run (it is copied, never edited)")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--edits", type=int, default=25, help="edits per editor and segment")
    parser.add_argument("--hogs", type=int, default=3, help="CPU-bound processes beside the editors")
    args = parser.parse_args()
    hogs = [multiprocessing.Process(target=_hog, args=(24 * 3600,), daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    failed = 0
    keep = Path(tempfile.mkdtemp(prefix="two_editors_"))
    try:
        for number in range(args.trials):
            folder = keep / f"trial_{number}"
            folder.mkdir()
            ok, report = trial(args.db, folder, args.edits)
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
