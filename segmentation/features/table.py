"""Per-customer behavioural features for one snapshot (the catalog of their words: features/catalog.py).

The set work runs in DuckDB (``queries/features/*.sql``, parameters ``$as_of``
and ``$window_days``); this module pivots the long channel and category parts
with numpy, drops features the data cannot define (with a note) and returns a
:class:`FeatureTable`: one float row per customer active in the look-back
window, no NaN or infinity.

The look-back window holds the events with ``ts`` in
``[as_of - window_days days, as_of + 1 day)``: the snapshot date is included up
to its last second.

Every column has a :class:`Feature` entry (name, label, description, kind) that
profiles and the UI turn into sentences such as "3.1x more app use".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.errors import InputError
from segmentation.features.catalog import (MAX_CATEGORIES, STATIC_FEATURES, TYPE_COLUMN, Feature, category_feature,
                                           channel_feature, slugify)
from segmentation.data.queries import load_query
from segmentation.data.store import fetch_row

__all__ = ["FeatureTable", "build_features", "fill_missing_features", "no_activity_value"]

@dataclass
class FeatureTable:
    """Features of one snapshot.

    ``frame``: index ``customer_id`` (str), one float column per feature, no NaN;
    ``catalog``: one :class:`Feature` per column, same order;
    ``notes``: what was left out, folded or filled in, and why (plain sentences, no PII);
    ``fill_notes``: those of ``notes`` about values filled in (undefined values replaced);
    ``constants``: the value of each feature left out for being the same for every customer.
    """

    frame: pd.DataFrame
    catalog: list[Feature]
    notes: list[str] = field(default_factory=list)
    as_of: date | None = None
    window_days: int = 90
    #: split-half reliability per feature (0–1), when measured (see segmentation.features.signal)
    reliability: dict | None = None
    #: the same features on two pseudo-random halves of the window's events, when built
    #: (segmentation.features.signal.split_half_tables): what customers repeat, and what is noise
    halves: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False)
    #: choose_clustered's answer per profile-only setting, computed once (snapshot.clustering_frame)
    choices: dict = field(default_factory=dict, repr=False)
    fill_notes: list[str] = field(default_factory=list)
    constants: dict[str, float] = field(default_factory=dict)


_NO_ACTIVITY = {"cart_abandonment": 0.5}
_STATIC_KIND = {feature.name: feature.kind for feature, _ in STATIC_FEATURES}


def no_activity_value(name: str, window_days: int) -> float:
    """The value of feature ``name`` that means "no such activity in the window".

    Counts, money and shares: 0. Days (``recency_days``, ``purchase_interval_days``): the
    window length, the longest the feature table can show (it gives the window length to
    customers who bought on fewer than two days) — 0 days would mean "active on the
    snapshot date". Channel and category shares: 0 (a customer with none of them).
    """
    if _STATIC_KIND.get(name) == "days":
        return float(window_days)
    return _NO_ACTIVITY.get(name, 0.0)


def fill_missing_features(table: FeatureTable, expected: list[str]) -> tuple[pd.DataFrame, str | None]:
    """``table.frame`` with exactly the columns ``expected`` (e.g. a run's models), and a note.

    A column the data lacks gets, for every customer, the value it was left out for being
    (:attr:`FeatureTable.constants`), else the value for "no such activity"
    (:func:`no_activity_value`). The note (None when nothing is missing) names each filled
    feature and its value.
    """
    frame = table.frame.reindex(columns=list(expected))
    missing = [name for name in expected if name not in table.frame.columns]
    if not missing:
        return frame, None
    parts = []
    for name in missing:
        same = name in table.constants
        value = table.constants[name] if same else no_activity_value(name, table.window_days)
        frame[name] = value
        parts.append(f"{name} = {value:g} ({'the same for every customer' if same else 'no such activity'})")
    shown = ", ".join(parts[:8]) + (f" and {len(parts) - 8} more" if len(parts) > 8 else "")
    return frame, (f"{len(missing)} features the models use are absent from the data and were filled in: "
                   f"{shown}")


def _customers(n: int) -> str:
    return f"{n:,} customer{'s' if n != 1 else ''}"


def _non_finite_note(counts: dict[str, int], n_customers: int) -> str:
    """How many customers had undefined values, in which features (counts only: no customer named)."""
    listed = ", ".join(f"{name} ({_customers(n)})" for name, n in counts.items())
    return (f"{_customers(n_customers)} had undefined values (NaN or infinity) in {len(counts)} "
            f"feature{'s' if len(counts) != 1 else ''}, set to the value for no such activity "
            f"(0; the window length for days): {listed}")


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"as-of date {value!r} is not a date; use YYYY-MM-DD") from None


def _dimension_features(
    long: pd.DataFrame, key: str, customer_ids: pa.Array, max_values: int | None
) -> tuple[np.ndarray, list[Feature], list[str]]:
    """Long (customer_id, value, n_events) -> dense shares, one column per slug of the value.

    Values with the same slug ("Gaming", "gaming ") share a column; beyond the
    ``max_values`` most used slugs (by events) the rest fold into ``category_other``.
    Counts are summed before dividing, so the result does not depend on row order.
    Customers absent from ``long`` get 0 everywhere.
    """
    n_rows = len(customer_ids)
    notes: list[str] = []
    if long.empty:
        return np.zeros((n_rows, 0)), [], notes
    # Arrow's hash lookup: far faster than a pandas index lookup on a million strings.
    rows = pc.index_in(pa.array(long["customer_id"]), value_set=customer_ids).to_numpy(zero_copy_only=False)
    counts = long["n_events"].to_numpy(np.int64)
    codes, values = pd.factorize(long[key], sort=False)
    events_per_value = np.bincount(codes, weights=counts, minlength=len(values)).astype(np.int64)

    slug_events: dict[str, int] = {}
    slug_label: dict[str, tuple[int, str]] = {}  # the most used spelling names the column
    for value, n in zip(values, events_per_value.tolist()):
        slug = slugify(value)
        slug_events[slug] = slug_events.get(slug, 0) + n
        if slug not in slug_label or (-n, value) < (-slug_label[slug][0], slug_label[slug][1]):
            slug_label[slug] = (n, value)
    ranked = sorted(slug_events, key=lambda slug: (-slug_events[slug], slug))
    kept, rest = (ranked[:max_values], ranked[max_values:]) if max_values else (ranked, [])
    make = channel_feature if key == "channel" else category_feature
    kept = sorted(kept)
    features = [make(slug_label[slug][1]) for slug in kept]
    column_of_slug = {slug: i for i, slug in enumerate(kept)}
    if rest:
        other = column_of_slug.get("other", len(features))
        if other == len(features):
            features.append(category_feature("", folded=True))
        else:  # a real "other" category takes the folded ones too
            features[other] = category_feature("", folded=True)
        column_of_slug.update({slug: other for slug in rest})
        notes.append(
            f"{len(rest)} less common categories folded into category_other "
            f"(the {len(kept)} most common kept as columns)"
        )
    column_of_value = np.array([column_of_slug[slugify(v)] for v in values], dtype=np.int64)
    k = len(features)
    flat = np.bincount(rows * k + column_of_value[codes], weights=counts, minlength=n_rows * k)
    matrix = flat.reshape(n_rows, k)
    totals = matrix.sum(axis=1, keepdims=True)
    np.divide(matrix, totals, out=matrix, where=totals > 0)
    return matrix, features, notes


def _empty_window_error(con: duckdb.DuckDBPyConnection, as_of: date, window_days: int) -> InputError:
    start = date.fromordinal(as_of.toordinal() - window_days)
    n_events, first, last = fetch_row(con, "events_select_range")
    window = (f"the look-back window {start.isoformat()} .. {as_of.isoformat()} "
              f"({window_days} days back from the as-of date {as_of.isoformat()})")
    if not n_events:
        return InputError(f"No activity in {window}: the database holds no events yet; "
                          "import events or create demo data first")
    return InputError(
        f"No activity in {window}: the events span {first.date().isoformat()} .. "
        f"{last.date().isoformat()}; choose an as-of date inside that range or a longer window"
    )


def build_features(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    window_days: int = 90,
    *,
    max_categories: int = MAX_CATEGORIES,
    half: int | None = None,
) -> FeatureTable:
    """Feature table of the customers active in the look-back window ending on ``as_of``.

    ``as_of`` (a date, inclusive) and ``window_days`` (days, >= 1) select the
    events with ``ts`` in ``[as_of - window_days days, as_of + 1 day)``. Money is in
    the unit of ``events.amount``; days are calendar days. Features the data
    cannot define (e.g. conversion without any view event) or that are the same
    for every customer are left out with a note. Categories beyond the
    ``max_categories`` most common are folded into ``category_other``. An undefined value
    (NaN or infinity; the SQL fills every empty denominator, so none is expected) becomes the
    value for no such activity (:func:`no_activity_value`), counted in a note.

    Raises :class:`InputError` when the window holds no events.
    """
    as_of = _as_date(as_of)
    if int(window_days) < 1:
        raise InputError(f"window of {window_days} days: the look-back window needs at least 1 day")
    window_days = int(window_days)
    params = {"as_of": as_of, "window_days": window_days, "half": half}

    customer = con.execute(load_query("events_select_customer_features"), params).df()
    if customer.empty:
        raise _empty_window_error(con, as_of, window_days)
    customer_ids = pa.array(customer["customer_id"].astype(str))
    n_customers = len(customer)

    notes: list[str] = []
    present = {etype for etype, column in TYPE_COLUMN.items() if bool((customer[column] > 0).any())}
    candidates: list[tuple[Feature, np.ndarray]] = []
    for feature, requires in STATIC_FEATURES:
        missing = [etype for etype in requires if etype not in present]
        if missing:
            what = " or ".join(f"'{etype}' events" for etype in missing)
            notes.append(f"{feature.name} left out: no {what} in the window")
            continue
        candidates.append((feature, customer[feature.name].to_numpy(np.float64)))

    for query, key, limit in (("events_count_by_channel", "channel", None),
                              ("events_count_by_category", "category", max_categories)):
        long = con.execute(load_query(query), params).df()
        matrix, features, dimension_notes = _dimension_features(long, key, customer_ids, limit)
        candidates += [(feature, matrix[:, i]) for i, feature in enumerate(features)]
        notes += dimension_notes
        if key == "category" and not features:
            notes.append("category features left out: no event in the window carries a category")

    catalog: list[Feature] = []
    columns: list[np.ndarray] = []
    constants: dict[str, float] = {}
    non_finite: dict[str, int] = {}
    undefined = np.zeros(n_customers, dtype=bool)  # customers with an undefined value in any feature
    for feature, column in candidates:
        finite = np.isfinite(column)
        if not finite.all():  # SQL fills every empty denominator; this keeps the no-NaN promise even so
            column = np.where(finite, column, no_activity_value(feature.name, window_days))
            non_finite[feature.name] = int((~finite).sum())
            undefined |= ~finite
        if n_customers > 1 and column.min() == column.max():
            notes.append(f"{feature.name} left out: the same value ({column[0]:g}) for every customer "
                         "in the window")
            constants[feature.name] = float(column[0])
            continue
        catalog.append(feature)
        columns.append(column)
    fill_notes = [_non_finite_note(non_finite, int(undefined.sum()))] if non_finite else []

    # Column-major, so each column is one contiguous block for pandas.
    values = np.empty((n_customers, len(columns)), order="F")
    for i, column in enumerate(columns):
        values[:, i] = column
    frame = pd.DataFrame(values, index=pd.Index(customer["customer_id"].astype(str), name="customer_id"),
                         columns=[f.name for f in catalog], copy=False)
    return FeatureTable(frame=frame, catalog=catalog, notes=notes + fill_notes, fill_notes=fill_notes,
                        constants=constants, as_of=as_of, window_days=window_days)
