"""Segment Workbench: unsupervised, dynamic customer segmentation for marketing teams.

The packages are the architecture (docs: ../shared/DESIGN.md §2), top to bottom —
``cli``, ``ui`` → ``workflows``, ``ingest``, ``audiences``, ``demo`` → ``engine``,
``dynamics``, ``present``, ``features`` → ``data`` → the leaves ``errors`` and
``constants``. Imports go down, never up (tests/test_layers.py checks it).
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# Modules before the packages (up to 2026-11): models stored by earlier versions were pickled
# with these names, so unpickling them imports the module's new home under its old name.
MOVED = {
    "pipeline": "engine.pipeline", "pipeline_steps": "engine.steps", "autoencoder": "engine.autoencoder",
    "mapping": "engine.mapping", "granularity": "engine.granularity", "resemblance": "engine.resemblance",
    "feature_signal": "features.signal",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``segmentation.pipeline`` (an old name) → the module ``segmentation.engine.pipeline``."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102
        old = fullname.removeprefix(f"{__name__}.")
        if fullname.startswith(f"{__name__}.") and old in MOVED and fullname not in sys.modules:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):  # noqa: D102
        return importlib.import_module(f"{__name__}.{MOVED[spec.name.removeprefix(f'{__name__}.')]}")

    def exec_module(self, module):  # noqa: D102
        pass


sys.meta_path.append(_MovedModules())
