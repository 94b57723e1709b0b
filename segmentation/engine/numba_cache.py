"""Keep umap-learn's compiled numba kernels on disk, so only the first process pays for them.

umap-learn compiles its core kernels (``smooth_knn_dist``, ``fast_knn_indices``,
``compute_membership_strengths``, the layout optimiser, …) and pynndescent its
nearest-neighbour descent without ``cache=True``, so every new process spends
~10–30 s of CPU compiling them again (more on a busy machine): the app's Run
page, each command-line run, each test session. Numba can
cache them like any other function once caching is switched on for their
dispatchers; the cache goes to ``$NUMBA_CACHE_DIR`` (the Makefile points it at
``.cache/numba``). Measured on 2 cores, first UMAP fit in a process, CPU seconds:
1,500 × 8 rows (exact neighbours) 14.3 cold → 3.0 warm; 6,000 × 8 rows (nearest-neighbour
descent) 30.6 with only umap-learn's kernels cached → 17.3 with pynndescent's too.
"""

from __future__ import annotations

__all__ = ["cache_umap_kernels"]

_done = False


def _modules():
    """umap-learn's and pynndescent's modules that define numba kernels."""
    import importlib
    import pkgutil

    names = ["umap.distances", "umap.utils", "umap.umap_", "umap.layouts", "umap.spectral", "umap.sparse"]
    try:
        import pynndescent

        names += [m.name for m in pkgutil.walk_packages(pynndescent.__path__, "pynndescent.")
                  if not m.name.split(".")[-1].startswith("test")]
    except ImportError:  # umap-learn without pynndescent
        pass
    for name in names:
        try:
            yield importlib.import_module(name)
        except ImportError:  # a module that another version no longer has
            continue


def cache_umap_kernels() -> int:
    """Switch on numba's disk cache for umap-learn's and pynndescent's kernels (idempotent); returns how many."""
    global _done
    if _done:
        return 0
    import warnings

    from numba.core.caching import NullCache
    from numba.core.errors import NumbaWarning
    from numba.core.registry import CPUDispatcher

    # A few kernels (pynndescent's nn_descent) reference dynamic globals and cannot be cached:
    # numba then compiles them as before and says so; that note is about our request, not a problem.
    warnings.filterwarnings("ignore", message=r"Cannot cache compiled function .* dynamic globals",
                            category=NumbaWarning)
    count = 0
    for module in _modules():
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher) and isinstance(value._cache, NullCache):
                value.enable_caching()
                count += 1
    _done = True
    return count
