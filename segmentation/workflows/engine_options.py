"""Engine options of a snapshot (``SnapshotParams.extra``), read from ``NAME=VALUE`` text.

The command line's ``--engine-option`` and the benchmarks' ``--extra`` pass any parameter of
:class:`~segmentation.engine.defaults.EngineDefaults` that the snapshot does not set itself, e.g.
``count_loss=10`` or ``ensemble_size=3``. Each value is checked against the type of its default
before anything is computed, so a typo fails at once with the name and the accepted values, not
halfway through a fit.
"""

from __future__ import annotations

from dataclasses import fields

from segmentation.engine.defaults import DEFAULTS, EngineDefaults
from segmentation.errors import InputError

__all__ = ["SET_BY_SNAPSHOT", "STEPS", "engine_option_names", "parse_engine_options", "check_engine_options"]

#: Engine parameters the snapshot chooses itself, each with how a user sets it instead.
SET_BY_SNAPSHOT = {
    "latent_dim": "set it with SnapshotParams.latent_dim",
    "max_epochs": "set it with SnapshotParams.max_epochs",
    "min_cluster_size": "set it with --min-cluster-share",
    "fit_sample_size": "set it with --fit-sample",
    "random_state": "set it with --seed",
    "outlier_floor": "set it with SnapshotParams.outlier_floor",
    "mix_twins": "by mix, and on a purchase log by value and rhythm too",
    **{name: "from the data's features" for name in
       ("log_columns", "share_counts", "count_columns", "feature_weights", "mix_columns")},
}
#: The pipeline's steps: from text, ``passthrough`` leaves one out (``mapping``: ``transform``).
STEPS = ("encoder", "reducer", "clusterer", "map_reducer", "mapping")

_OFF = {"none", "off", "null"}
_TRUE, _FALSE = {"true", "yes", "on"}, {"false", "no"}


def engine_option_names() -> list[str]:
    """The pipeline's parameters a snapshot takes as options (its steps and those with an engine
    default, less the ones the snapshot sets), sorted."""
    from inspect import signature

    from segmentation.engine.pipeline import SegmentationPipeline  # here: the command line starts light

    known = {f.name for f in fields(EngineDefaults)} | set(STEPS)
    return sorted(name for name in signature(SegmentationPipeline).parameters
                  if name in known and name not in SET_BY_SNAPSHOT)


def _kind_in_words(kind: str) -> str:
    """``"float | None"`` → ``"a number, or off"``."""
    words = ("comma-separated whole numbers" if "tuple" in kind else "a whole number" if kind.startswith("int")
             else "a number" if "float" in kind else "true or false" if kind == "bool" else "a word")
    return words + (", or off" if "None" in kind else "")


def _number(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def _convert(name: str, text: str, kind: str):
    """``text`` as a value of the annotated type ``kind`` (e.g. ``"float | None"``), or InputError."""
    word = text.strip()
    if word.lower() in _OFF:
        if "None" in kind:
            return None
        raise InputError(f"engine option {name}: {text!r} cannot turn it off; it takes {_kind_in_words(kind)}")
    if "bool" in kind and word.lower() in _TRUE | _FALSE:
        return word.lower() in _TRUE
    if "tuple" in kind:
        try:
            return tuple(int(part) for part in word.split(","))
        except ValueError:
            raise InputError(f"engine option {name}: {text!r} is not a comma-separated list of whole "
                             f"numbers (e.g. {','.join(map(str, getattr(DEFAULTS, name)))})") from None
    number = _number(word) if "int" in kind or "float" in kind else None
    if number is not None:
        if not kind.startswith("int"):
            return number
        if not number.is_integer():
            raise InputError(f"engine option {name}: {text!r} is not a whole number")
        return int(number)
    if kind == "str" or "| str" in kind:
        return word
    raise InputError(f"engine option {name}: {text!r} is not {_kind_in_words(kind)} "
                     f"(default {getattr(DEFAULTS, name)!r})")


def check_engine_options(options: dict) -> dict:
    """``options`` unchanged when every name is an engine option and every switch's value (once it is
    a value, not text) a setting the pipeline accepts; else InputError naming the first bad one."""
    if not options:
        return options
    names = engine_option_names()
    for name in options:
        if name in SET_BY_SNAPSHOT:
            raise InputError(f"engine option {name}: the snapshot sets it ({SET_BY_SNAPSHOT[name]})")
        if name not in names:
            raise InputError(f"unknown engine option {name!r}; the options are: {', '.join(names)}")
    from segmentation.engine.inputs import SWITCHES, check_switches  # here: it loads pandas

    switches = {name: value for name, value in options.items() if name in SWITCHES
                and (not isinstance(value, str) or isinstance(getattr(DEFAULTS, name), str))}  # text only where it is the value
    if switches:
        try:  # the pipeline's own check, before any work rather than when the fit starts
            check_switches(**{**{name: getattr(DEFAULTS, name) for name in SWITCHES}, **switches})
        except ValueError as error:
            raise InputError(f"engine option {error}") from None
    return options


def parse_engine_options(pairs) -> dict:
    """``["count_loss=10", "twin_distance=off"]`` → ``{"count_loss": 10.0, "twin_distance": None}``.

    A name given twice keeps its last value. Raises InputError for text that is not ``NAME=VALUE``,
    an unknown name, one the snapshot sets itself, or a value not of the option's type.
    """
    kinds = {**{f.name: str(f.type) for f in fields(EngineDefaults)}, **{step: "str" for step in STEPS}}
    texts = {}
    for pair in pairs or ():
        name, sep, text = str(pair).partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise InputError(f"engine option {pair!r}: expected NAME=VALUE, e.g. count_loss=10")
        texts[name] = text
    check_engine_options(texts)
    return check_engine_options({name: _convert(name, text, kinds[name]) for name, text in texts.items()})
