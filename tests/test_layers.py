"""The packages are the architecture (DESIGN §2): imports go down the layers, never up or across.

Layers, top to bottom: cli, ui → workflows, ingest, audiences, demo → engine, dynamics, present,
features → data → the leaves errors and constants. A module may import its own package, any
package of a lower layer, and the siblings each package's docstring notes (:data:`ACROSS`).
``engine``, ``dynamics`` and ``present`` are pure (arrays and frames): no DuckDB, no streamlit,
no ``data``. An AST walk of every module checks both rules, lazy imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "segmentation"
LAYERS = (("cli", "ui"), ("workflows", "ingest", "audiences", "demo"), ("engine", "dynamics", "present", "features"),
          ("data",), ("errors", "constants"))
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
# The siblings a package may import, as its docstring says.
ACROSS = {("workflows", "ingest"), ("workflows", "audiences"), ("workflows", "demo"),
          ("dynamics", "engine"), ("present", "dynamics"), ("present", "engine")}
PURE = {"engine", "dynamics", "present"}
IMPURE_LIBRARIES = {"duckdb", "streamlit"}


def _unit(module: str) -> str | None:
    """``segmentation.engine.pipeline`` → ``engine``; ``segmentation.errors`` → ``errors``."""
    parts = module.split(".")
    if parts[0] != "segmentation" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, imported module) of every import in a file, relative ones made absolute."""
    current = _module_name(path, root).split(".")
    package = current if path.name == "__init__.py" else current[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            # "from segmentation import store" imports the module segmentation.store
            found += [(node.lineno, f"{base}.{a.name}" if base == "segmentation" else base) for a in node.names]
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        source = _unit(_module_name(path, root))
        if source not in LEVEL:  # segmentation/__init__.py, __main__.py
            continue
        for line, module in imports(path, root):
            where = f"{path.relative_to(root.parent)}:{line} imports {module}"
            if source in PURE and (module.split(".")[0] in IMPURE_LIBRARIES or _unit(module) == "data"):
                out.append(f"{where}: {source} is pure (no DuckDB, streamlit or data)")
            target = _unit(module)
            if target is None or target == source or target not in LEVEL:
                continue
            if LEVEL[target] < LEVEL[source] or (LEVEL[target] == LEVEL[source] and (source, target) not in ACROSS):
                out.append(f"{where}: {source} may not import {target} (up or across the layers)")
    return out


def test_every_package_says_what_lives_there_and_what_it_may_import():
    for name in LEVEL:
        init = PACKAGE / name / "__init__.py"
        if init.exists():
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            assert doc and "May import" in doc, f"{init}: one docstring line: what lives here, what it may import"


def test_imports_go_down_the_layers():
    assert violations() == []


@pytest.mark.parametrize("module, line, expected", [
    ("engine/bad.py", "from segmentation.data import store", "engine is pure"),
    ("engine/bad.py", "import duckdb", "engine is pure"),
    ("data/bad.py", "from segmentation.workflows.snapshot import run_snapshot", "data may not import workflows"),
    ("audiences/bad.py", "from ..demo import generate", "audiences may not import demo"),
    ("dynamics/bad.py", "def f():\n    from segmentation.ui import common", "dynamics may not import ui"),
])
def test_a_wrong_import_is_caught(tmp_path, module, line, expected):
    fake = tmp_path / "segmentation"
    (fake / module).parent.mkdir(parents=True)
    (fake / module).write_text(line + "\n")
    found = violations(fake)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("old, new, name", [
    ("segmentation.pipeline", "segmentation.engine.pipeline", "SegmentationPipeline"),
    ("segmentation.pipeline_steps", "segmentation.engine.steps", "AutoEncoderTransformer"),
    ("segmentation.mapping", "segmentation.engine.mapping", "SampleMapping"),
])
def test_models_pickled_under_the_flat_module_names_still_load(old, new, name):
    """Models stored before the packages name their classes by the old flat modules."""
    import importlib
    import pickle

    found = pickle.loads(f"c{old}\n{name}\n.".encode())  # a pickle of the class, as stored models hold it
    assert found is getattr(importlib.import_module(new), name)
