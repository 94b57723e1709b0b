"""Per-customer behavioural features for one snapshot, with a plain-language catalog.

The set work runs in DuckDB (``queries/features_*.sql``, parameters ``$as_of``
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

import re
from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.errors import InputError
from segmentation.data.queries import load_query
from segmentation.data.store import fetch_row

__all__ = [
    "KINDS",
    "Feature",
    "FeatureTable",
    "build_features",
    "feature_catalog",
    "fill_missing_features",
    "no_activity_value",
    "slugify",
]

#: Allowed values of :attr:`Feature.kind`.
KINDS = ("count", "money", "share", "days", "rate")

#: At most this many category columns; rarer categories are folded into ``category_other``.
MAX_CATEGORIES = 30


@dataclass(frozen=True)
class Feature:
    """One column of the feature table, described for people.

    ``label`` is a short noun phrase for trait sentences ("app use",
    "night-time activity"); ``description`` says what is measured and how an
    undefined value is filled; ``kind`` is one of :data:`KINDS`.
    """

    name: str
    label: str
    description: str
    kind: str


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
    #: choose_clustered's answer per profile-only setting, computed once (snapshot.clustering_frame)
    choices: dict = field(default_factory=dict, repr=False)
    fill_notes: list[str] = field(default_factory=list)
    constants: dict[str, float] = field(default_factory=dict)


# (feature, event types the data must contain for it to be defined)
_STATIC: list[tuple[Feature, tuple[str, ...]]] = [
    (Feature("recency_days", "days since last activity",
             "days since the customer's last event, counted back from the snapshot date (0 = active on that day)",
             "days"), ()),
    (Feature("frequency", "activity",
             "number of events (visits, views, purchases, emails, ...) in the look-back window", "count"), ()),
    (Feature("active_days", "active days",
             "number of distinct days with at least one event in the look-back window", "count"), ()),
    (Feature("n_purchases", "purchases", "number of purchases in the look-back window", "count"),
     ("purchase",)),
    (Feature("monetary", "spend",
             "total amount spent on purchases in the look-back window (before refunds)", "money"),
     ("purchase",)),
    (Feature("avg_basket", "basket value",
             "average amount per purchase; customers who bought nothing in the window get the median "
             "basket of those who did", "money"), ("purchase",)),
    (Feature("purchase_interval_days", "days between purchases",
             "average number of days between purchase days; the window length for customers "
             "who bought on fewer than two days", "days"), ("purchase",)),
    (Feature("conversion", "view-to-purchase conversion",
             "purchases per product view, capped at 1, shrunk toward all customers' rate with two "
             "pseudo-views (a customer with no view and no purchase gets that rate)", "rate"),
     ("view", "purchase")),
    (Feature("cart_abandonment", "cart abandonment",
             "share of cart additions without a matching purchase, (carts - purchases) / carts, shrunk "
             "toward all customers' rate with two pseudo-carts", "rate"), ("cart",)),
    (Feature("refund_rate", "refunds per purchase",
             "refunds per purchase, capped at 1, shrunk toward all customers' rate with two "
             "pseudo-purchases", "rate"),
     ("purchase", "refund")),
    (Feature("email_open_rate", "email opens", "marketing emails opened per 30 days", "rate"),
     ("email_open",)),
    (Feature("email_click_rate", "email click-through",
             "email clicks per email opened, capped at 1, shrunk toward all customers' rate with two "
             "pseudo-opens", "rate"),
     ("email_open", "email_click")),
    (Feature("event_view", "browsing", "share of the customer's events that are product views", "share"),
     ("view",)),
    (Feature("event_search", "searching", "share of the customer's events that are searches", "share"),
     ("search",)),
    (Feature("event_cart", "cart additions",
             "share of the customer's events that are additions to the cart", "share"), ("cart",)),
    (Feature("event_purchase", "buying", "share of the customer's events that are purchases", "share"),
     ("purchase",)),
    (Feature("event_refund", "refunds", "share of the customer's events that are refunds", "share"),
     ("refund",)),
    (Feature("event_email_open", "email reading",
             "share of the customer's events that are opened marketing emails", "share"), ("email_open",)),
    (Feature("event_email_click", "email clicks",
             "share of the customer's events that are clicks in marketing emails", "share"),
     ("email_click",)),
    (Feature("event_app_open", "app sessions",
             "share of the customer's events that are mobile-app openings", "share"), ("app_open",)),
    (Feature("event_store_visit", "store visits",
             "share of the customer's events that are visits to a physical store", "share"),
     ("store_visit",)),
    (Feature("event_other", "other activity",
             "share of the customer's events of any other type", "share"), ("other",)),
    (Feature("time_night", "night-time activity",
             "share of the customer's events between midnight and 6 am", "share"), ()),
    (Feature("time_morning", "morning activity",
             "share of the customer's events between 6 am and noon", "share"), ()),
    (Feature("time_afternoon", "afternoon activity",
             "share of the customer's events between noon and 6 pm", "share"), ()),
    (Feature("time_evening", "evening activity",
             "share of the customer's events between 6 pm and midnight", "share"), ()),
    (Feature("weekend", "weekend activity",
             "share of the customer's events on Saturdays and Sundays", "share"), ()),
    (Feature("trend", "recent activity",
             "share of the customer's events in the more recent half of the look-back window "
             "(0.5 = steady, above = growing, below = slowing down)", "share"), ()),
]

# Which share column says whether an event type occurs in the window at all.
_TYPE_COLUMN = {
    "view": "event_view", "search": "event_search", "cart": "event_cart",
    "purchase": "event_purchase", "refund": "event_refund", "email_open": "event_email_open",
    "email_click": "event_email_click", "app_open": "event_app_open",
    "store_visit": "event_store_visit", "other": "event_other",
}

# Labels and descriptions for the channels of the data contract (DESIGN §3).
_CHANNEL_WORDING = {
    "web": ("web use", "the website"),
    "app": ("app use", "the mobile app"),
    "email": ("email activity", "email"),
    "store": ("in-store activity", "physical stores"),
    "social": ("social media activity", "social media"),
    "ads": ("ad-driven activity", "paid ads"),
    "other": ("other-channel activity", "other channels"),
    "unknown": ("activity with unknown channel", "no recorded channel"),
}


def slugify(text: str) -> str:
    """Lower-case snake_case form of a channel or category name, for column names.

    ``"Home & Garden"`` -> ``"home_garden"``; an empty result becomes ``"unnamed"``.
    """
    slug = re.sub(r"[^0-9a-z]+", "_", str(text).strip().lower()).strip("_")
    return slug or "unnamed"


def _channel_feature(channel: str) -> Feature:
    slug = slugify(channel)
    label, where = _CHANNEL_WORDING.get(slug, (f"{channel} channel activity", f"the {channel} channel"))
    return Feature(f"channel_{slug}", label, f"share of the customer's events on {where}", "share")


def _category_feature(category: str, folded: bool = False) -> Feature:
    if folded:
        return Feature(
            "category_other", "activity in other categories",
            "share of the customer's category-tagged events (views, carts, purchases, ...) in the "
            "less common categories (0 for customers without category-tagged events)", "share",
        )
    return Feature(
        f"category_{slugify(category)}", f"{category} activity",
        f"share of the customer's category-tagged events (views, carts, purchases, ...) in {category} "
        "(0 for customers without category-tagged events)", "share",
    )


def feature_catalog(con: duckdb.DuckDBPyConnection | None = None) -> list[Feature]:
    """The features the workbench can compute.

    Without ``con``: the static features (those every snapshot may have). With
    ``con``: also one channel and one category feature per value found in the
    stored events (all time; a snapshot holds those active in its window).
    """
    catalog = [feature for feature, _ in _STATIC]
    if con is None:
        return catalog
    values = con.execute(load_query("features_values")).df()
    seen = {f.name for f in catalog}
    for dimension, make in (("channel", _channel_feature), ("category", _category_feature)):
        n_columns, folded = 0, False
        for value in values.loc[values["dimension"] == dimension, "value"]:  # most used first
            feature = make(value)
            if feature.name in seen:
                continue
            if dimension == "category" and n_columns == MAX_CATEGORIES:
                folded = True
                continue
            seen.add(feature.name)
            catalog.append(feature)
            n_columns += 1
        if folded and "category_other" not in seen:
            catalog.append(_category_feature("", folded=True))
    return catalog


# The value a customer without the activity gets, where it is not 0 (see queries/features/features_customer.sql).
# cart_abandonment: with no cart addition at all the SQL's prior is 0.5, so everyone gets 0.5.
_NO_ACTIVITY = {"cart_abandonment": 0.5}
_STATIC_KIND = {feature.name: feature.kind for feature, _ in _STATIC}


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
    make = _channel_feature if key == "channel" else _category_feature
    kept = sorted(kept)
    features = [make(slug_label[slug][1]) for slug in kept]
    column_of_slug = {slug: i for i, slug in enumerate(kept)}
    if rest:
        other = column_of_slug.get("other", len(features))
        if other == len(features):
            features.append(_category_feature("", folded=True))
        else:  # a real "other" category takes the folded ones too
            features[other] = _category_feature("", folded=True)
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
    n_events, first, last = fetch_row(con, "features_data_range")
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

    customer = con.execute(load_query("features_customer"), params).df()
    if customer.empty:
        raise _empty_window_error(con, as_of, window_days)
    customer_ids = pa.array(customer["customer_id"].astype(str))
    n_customers = len(customer)

    notes: list[str] = []
    present = {etype for etype, column in _TYPE_COLUMN.items() if bool((customer[column] > 0).any())}
    candidates: list[tuple[Feature, np.ndarray]] = []
    for feature, requires in _STATIC:
        missing = [etype for etype in requires if etype not in present]
        if missing:
            what = " or ".join(f"'{etype}' events" for etype in missing)
            notes.append(f"{feature.name} left out: no {what} in the window")
            continue
        candidates.append((feature, customer[feature.name].to_numpy(np.float64)))

    for query, key, limit in (("features_channel", "channel", None),
                              ("features_category", "category", max_categories)):
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
