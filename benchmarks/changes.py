"""Planted *changes* over time, for the dynamics benchmark (issue 10 / 15).

A generator beside :mod:`benchmarks.scenarios` (it reuses its behaviour atoms, spend and
file format): customers live through ``months`` calendar months, each month with a
persona of its own, and one planted change starts at month ``onset``:

* ``emerge_distinct`` — a new persona with channel and category mixes nobody had,
  growing by 3 points of the customers a month (half new sign-ups, half converts);
* ``emerge_blend`` — the same growth, but the persona is a new *combination* of existing
  behaviours (one persona's channels and events, another's categories and rhythm);
* ``grow`` — one persona gains 25 % more customers each month (sign-ups);
* ``shrink`` — one persona loses 15 % of its customers each month (they go quiet);
* ``fade`` — one persona goes quiet entirely over three months;
* ``split`` — one persona's customers go two ways, each child keeping half of the
  parent's behaviour (its categories or its channels change);
* ``merge`` — two personas converge on the mixture of both;
* ``drift`` — one persona's category mix moves gradually to another over six months
  (``survived`` with a change, not an emergence);
* ``seasonal`` — for one month everybody puts half their events into toys (no event);
* ``stationary`` — nothing changes (sign-ups and churn balanced, as everywhere).

``new_category`` (any scenario) adds, from month ``onset`` + 1, a category nobody had
before ("vinyl", 8 % of every persona's events): the feature set changes and the models
are refitted. Each customer's truth at a snapshot is the persona of most of their events
in the window. :data:`CHANGES` names the suite; tuning seeds 0–9, held-out 100–104 (as
in :mod:`benchmarks.scenarios`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from . import scenarios as sc

__all__ = ["Change", "CHANGES", "EXPECTED", "generate", "load_into", "truth_at", "START"]

START = date(2025, 1, 1)
NEW, CHILD_A, CHILD_B, MERGED = "new persona", "child A", "child B", "merged persona"

#: The external event each change should produce (None: segments survive, possibly changed).
EXPECTED = {"emerge_distinct": "emerged", "emerge_blend": "emerged", "split": "split", "merge": "merged",
            "fade": "disappeared", "grow": None, "shrink": None, "drift": None, "seasonal": None,
            "stationary": None}


@dataclass(frozen=True)
class Change:
    name: str
    kind: str
    n_personas: int = 6
    customers: int = 2500
    events_per_month: float = 10.0
    months: int = 10
    onset: int = 4
    overlap: float = 0.25
    new_category: bool = False


CHANGES: dict[str, Change] = {c.name: c for c in (
    Change("emerge_distinct", "emerge_distinct"),
    Change("emerge_blend", "emerge_blend"),
    Change("grow", "grow"),
    Change("shrink", "shrink"),
    Change("fade", "fade"),
    Change("split", "split"),
    Change("merge", "merge"),
    Change("drift", "drift"),
    Change("seasonal", "seasonal"),
    Change("stationary", "stationary"),
)}


def _month_start(m: int) -> date:
    y, mo = divmod(START.month - 1 + m, 12)
    return date(START.year + y, mo + 1, 1)


def _fresh(n_values: int, overlap: float, rng: np.random.Generator) -> np.ndarray:
    return sc._atoms(1, n_values, overlap, rng)[0]


def _personas(c: Change, rng: np.random.Generator) -> tuple[list[dict], list[str], dict]:
    """The base personas, the extra ones the change brings, their names and the change's roles."""
    base = sc._behaviour_personas(sc.Scenario("changes", n_personas=c.n_personas, overlap=c.overlap), rng)
    names = [f"persona {i + 1}" for i in range(len(base))]
    roles: dict = {}
    x, y = 0, 1  # the personas a change acts on (shares are shuffled, so any index is as good)
    if c.kind == "emerge_distinct":
        new = dict(base[x], channel=_fresh(len(sc._CHANNELS), c.overlap, rng),
                   category=_fresh(len(sc._CATEGORIES), c.overlap, rng), etype=base[2]["etype"])
        base, names, roles = base + [new], names + [NEW], {"new": len(base)}
    elif c.kind == "emerge_blend":
        new = dict(base[x], category=base[y]["category"], hours=base[y]["hours"], weekend=base[y]["weekend"])
        base, names, roles = base + [new], names + [NEW], {"new": len(base)}
    elif c.kind == "split":
        a = dict(base[x], category=_fresh(len(sc._CATEGORIES), c.overlap, rng))
        b = dict(base[x], channel=_fresh(len(sc._CHANNELS), c.overlap, rng))
        base, names, roles = base + [a, b], names + [CHILD_A, CHILD_B], {"parent": x, "children": (len(base), len(base) + 1)}
    elif c.kind == "merge":
        mixed = {k: (np.asarray(base[x][k]) + np.asarray(base[y][k])) / 2 if k != "basket" else base[x][k]
                 for k in base[x]}
        base, names, roles = base + [mixed], names + [MERGED], {"parents": (x, y), "child": len(base)}
    elif c.kind in ("grow", "shrink", "fade", "drift"):
        roles = {"persona": x}
        if c.kind == "drift":
            roles["target"] = _fresh(len(sc._CATEGORIES), c.overlap, rng)
    return base, names, roles


def _persona_months(c: Change, shares: np.ndarray, roles: dict, rng: np.random.Generator):
    """``persona[customer, month]`` (−1: quiet that month) for the base population and the change."""
    n0 = c.customers
    base = rng.choice(len(shares), size=n0, p=shares)
    months = c.months
    plan = np.repeat(base[:, None], months, axis=1)
    # ordinary churn and sign-ups: 3 % of customers join late, 3 % leave early
    late = rng.random(n0) < 0.03
    plan[late, : rng.integers(1, months)] = -1
    early = rng.random(n0) < 0.03
    for i in np.flatnonzero(early):
        plan[i, rng.integers(1, months):] = -1
    extra: list[np.ndarray] = []
    t0 = c.onset
    after = np.arange(months) >= t0
    if c.kind in ("emerge_distinct", "emerge_blend"):
        new = roles["new"]
        for m in range(t0, months):
            target = int(round(0.03 * (m - t0 + 1) * n0))
            have = int((plan[:, m] == new).sum()) + sum(int((e[m] == new)) for e in extra)
            need = max(0, target - have)
            converts = rng.choice(np.flatnonzero(plan[:, m] >= 0), size=need // 2, replace=False)
            plan[converts, m:] = new
            for _ in range(need - need // 2):
                row = np.full(months, -1)
                row[m:] = new
                extra.append(row)
    elif c.kind == "grow":
        x = roles["persona"]
        for m in range(t0, months):
            for _ in range(int(0.25 * shares[x] * n0 * 1.25 ** (m - t0))):
                row = np.full(months, -1)
                row[m:] = x
                extra.append(row)
    elif c.kind in ("shrink", "fade"):
        x = roles["persona"]
        members = np.flatnonzero(base == x)
        order = rng.permutation(members)
        for m in range(t0, months):
            gone = (1 - 0.85 ** (m - t0 + 1)) if c.kind == "shrink" else min(1.0, 0.4 * (m - t0 + 1))
            plan[order[: int(round(gone * len(order)))], m:] = -1
    elif c.kind == "split":
        x, (a, b) = roles["parent"], roles["children"]
        members = np.flatnonzero(base == x)
        half = rng.random(len(members)) < 0.5
        plan[np.ix_(members[half], after)] = np.where(plan[np.ix_(members[half], after)] >= 0, a, -1)
        plan[np.ix_(members[~half], after)] = np.where(plan[np.ix_(members[~half], after)] >= 0, b, -1)
    elif c.kind == "merge":
        (x, y), z = roles["parents"], roles["child"]
        members = np.flatnonzero((base == x) | (base == y))
        plan[np.ix_(members, after)] = np.where(plan[np.ix_(members, after)] >= 0, z, -1)
    if extra:
        plan = np.vstack([plan, np.array(extra)])
    return plan


#: Which persona (by size rank, 0 = largest) a change acts on as ``x`` and ``y``.
_RANKS = {"grow": (-2, 1), "shrink": (0, 1), "fade": (-3, 1), "split": (0, 1), "merge": (1, 2), "drift": (2, 1)}


def _arrange(kind: str, shares: np.ndarray) -> np.ndarray:
    """Shares reordered so that personas 0 (``x``) and 1 (``y``) have the sizes the change needs."""
    x, y = _RANKS.get(kind, (0, 1))
    by_size = list(np.argsort(-shares))
    first, second = by_size[x], by_size[y]
    rest = [i for i in range(len(shares)) if i not in (first, second)]
    return shares[[first, second, *rest]]


def generate(change: Change | str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (the scenario file format) and the persona of every event (``user, when, persona``)."""
    c = CHANGES[change] if isinstance(change, str) else change
    rng = np.random.default_rng([seed, sum(map(ord, c.name)), 15])
    personas, names, roles = _personas(c, rng)
    shares = _arrange(c.kind, sc._shares(c.n_personas, 0.06, 0.30, rng))
    plan = _persona_months(c, shares, roles, rng)
    n_customers, months = plan.shape
    activity = np.exp(rng.normal(0, 0.4, n_customers) - 0.08)
    cust, month = np.nonzero(plan >= 0)
    persona = plan[cust, month]
    counts = np.maximum(rng.poisson(c.events_per_month * activity[cust]), 1)
    owner, m, source = (np.repeat(a, counts) for a in (cust, month, persona))
    cols: dict[str, np.ndarray] = {}
    for key, values in (("etype", sc._EVENT_TYPES), ("channel", sc._CHANNELS), ("category", sc._CATEGORIES),
                        ("hours", np.arange(4))):
        table = np.stack([np.asarray(p[key], dtype=float) for p in personas])
        if key == "category" and c.kind == "drift":  # persona x's category mix moves over six months
            x, target = roles["persona"], roles["target"]
            drifted = np.empty(len(source), dtype=np.int64)
            step = np.clip((m - c.onset + 1) / 6, 0, 1)
            probs = table[source]
            mine = source == x
            probs[mine] = (1 - step[mine, None]) * table[x] + step[mine, None] * target
            cdf = np.cumsum(probs, axis=1)
            drifted = (rng.random((len(source), 1)) > cdf).sum(axis=1).clip(0, len(values) - 1)
            cols[key] = np.asarray(values)[drifted]
            continue
        cdf = np.cumsum(table, axis=1)[source]
        pick = (rng.random((len(source), 1)) > cdf).sum(axis=1).clip(0, len(values) - 1)
        cols[key] = np.asarray(values)[pick]
    category = cols["category"].astype(object)
    if c.kind == "seasonal":
        surge = (m == c.onset) & (rng.random(len(m)) < 0.5)
        category[surge] = "toys"
    if c.new_category:
        vinyl = (m >= c.onset + 1) & (rng.random(len(m)) < 0.08)
        category[vinyl] = "vinyl"
    # the day: inside the event's month, weekend days with the persona's weekend probability
    weekend_p = np.array([p["weekend"] for p in personas])[source]
    day = np.empty(len(m), dtype="datetime64[D]")
    for month_index in np.unique(m):
        first = _month_start(int(month_index))
        last = _month_start(int(month_index) + 1) - timedelta(days=1)
        days = pd.date_range(first, last, freq="D")
        weekend_days = days[days.day_of_week >= 5].to_numpy(dtype="datetime64[D]")
        week_days = days[days.day_of_week < 5].to_numpy(dtype="datetime64[D]")
        rows = np.flatnonzero(m == month_index)
        on_weekend = rng.random(len(rows)) < weekend_p[rows]
        day[rows] = np.where(on_weekend, rng.choice(weekend_days, len(rows)), rng.choice(week_days, len(rows)))
    block = np.array(sc._HOUR_BLOCKS)[cols["hours"]]
    seconds = rng.integers(block[:, 0] * 3600, block[:, 1] * 3600)
    etype = cols["etype"]
    money = (etype == "purchase") | (etype == "refund")
    basket = np.array([p["basket"] for p in personas])[source]
    amount = np.where(money, sc._amounts(basket, rng), 0.0)
    ts = pd.to_datetime(day) + pd.to_timedelta(seconds, unit="s")
    ids = np.array([f"c{seed:03d}-{i:05d}" for i in range(n_customers)])
    events = pd.DataFrame({
        "user": ids[owner], "when": ts.strftime("%Y-%m-%d %H:%M:%S"), "what": etype, "where": cols["channel"],
        "cat": np.where(np.isin(etype, ("email_open", "email_click", "app_open")), "", category),
        "price": amount, "qty": np.where(amount > 0, 1, 0)})
    order = np.argsort(events["when"].to_numpy(), kind="stable")
    events = events.iloc[order].reset_index(drop=True)
    truth = pd.DataFrame({"user": events["user"], "when": events["when"],
                          "persona": np.asarray(names, dtype=object)[source[order]]})
    return events, truth


def truth_at(truth: pd.DataFrame, as_of: date, window_days: int) -> pd.Series:
    """Each customer's persona at a snapshot: the persona of most of their events in the window."""
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=window_days)
    when = pd.to_datetime(truth["when"])
    inside = truth[(when >= start) & (when < end)]
    counts = inside.groupby(["user", "persona"]).size().rename("n").reset_index()
    top = counts.sort_values(["user", "n"], ascending=[True, False]).drop_duplicates("user")
    return top.set_index("user")["persona"]


def load_into(db: Path, change: Change | str, seed: int, folder: Path) -> pd.DataFrame:
    """Write the CSV and import it through ``ingest`` with the file's own column names; the event truth."""
    from segmentation.data import store
    from segmentation.ingest.files import ingest_file

    c = CHANGES[change] if isinstance(change, str) else change
    events, truth = generate(c, seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{c.name}_{seed}.csv"
    events.to_csv(path, index=False)
    end = pd.Timestamp(_month_start(c.months)).to_pydatetime()
    with store.connect(db) as con:
        ingest_file(con, path, mapping=sc.COLUMN_MAP, now=end + timedelta(days=2))
    return truth


def with_new_category(change: Change | str) -> Change:
    c = CHANGES[change] if isinstance(change, str) else change
    return replace(c, name=f"{c.name}+new_category", new_category=True)


def named(name: str) -> Change:
    """The change of that name: one of :data:`CHANGES`, or ``"<change>+new_category"``."""
    return CHANGES[name] if name in CHANGES else with_new_category(name.split("+")[0])


# ------------------------------------------------------------------ a purchase log over 18 months
#: Purchase-only personas over time: (name, purchases a month, basket log-median, months active).
#: ``months active``: "all", "season" (November–December), "once" (one purchase), "early" (first 6 months).
_PURCHASE_PERSONAS = (
    ("loyal big spenders", 1.2, 5.2, "all"),
    ("bargain regulars", 1.6, 2.6, "all"),
    ("steady mid spenders", 0.6, 4.0, "all"),
    ("premium occasional", 0.15, 6.0, "all"),
    ("seasonal shoppers", 1.5, 4.2, "season"),
    ("one-time buyers", 1.0, 3.6, "once"),
)
PURCHASE_START = date(2024, 1, 1)
PURCHASE_SNAPSHOTS = [date(2024, 6, 30), date(2024, 9, 30), date(2024, 12, 31), date(2025, 3, 31),
                      date(2025, 6, 30)]
PURCHASE_WINDOW = 180


def purchase_log(seed: int, customers: int = 4000, months: int = 18) -> tuple[pd.DataFrame, pd.Series]:
    """A stationary purchase log (no web events): value and rhythm personas, quarterly snapshots.

    Returns events in the scenario file format and each customer's persona (constant).
    """
    rng = np.random.default_rng([seed, 4242])
    shares = np.array([0.12, 0.18, 0.25, 0.10, 0.15, 0.20])
    persona = rng.choice(len(_PURCHASE_PERSONAS), size=customers, p=shares)
    joined = rng.integers(0, months, customers) * (rng.random(customers) < 0.3)  # 30 % join later
    owners, days, baskets = [], [], []
    starts = [pd.Timestamp(PURCHASE_START) + pd.DateOffset(months=m) for m in range(months + 1)]
    for customer in range(customers):
        name, rate, basket, active = _PURCHASE_PERSONAS[persona[customer]]
        if active == "once":
            month = int(rng.integers(joined[customer], months))
            counts = np.zeros(months, dtype=int)
            counts[month] = 1
        else:
            monthly = np.full(months, rate)
            if active == "season":
                in_season = np.array([starts[m].month in (11, 12) for m in range(months)])
                monthly = np.where(in_season, rate, 0.05)
            monthly[: joined[customer]] = 0
            counts = rng.poisson(monthly)
        for month in np.flatnonzero(counts):
            span = (starts[month + 1] - starts[month]).days
            days.append(starts[month] + pd.to_timedelta(rng.integers(0, span, counts[month]), unit="D"))
            owners.append(np.full(counts[month], customer))
            baskets.append(np.full(counts[month], basket))
    owner = np.concatenate(owners)
    when = pd.DatetimeIndex(np.concatenate([d.to_numpy() for d in days]))
    when = when + pd.to_timedelta(rng.integers(8 * 3600, 21 * 3600, len(owner)), unit="s")
    amount = sc._amounts(np.concatenate(baskets), rng)
    category = np.asarray(sc._CATEGORIES)[rng.integers(0, 6, len(owner))]
    ids = np.array([f"p{seed:03d}-{i:05d}" for i in range(customers)])
    events = pd.DataFrame({"user": ids[owner], "when": when.strftime("%Y-%m-%d %H:%M:%S"), "what": "purchase",
                           "where": np.where(rng.random(len(owner)) < 0.4, "store", "web"), "cat": category,
                           "price": amount, "qty": 1}).sort_values(["when", "user"], kind="stable")
    truth = pd.Series(np.array([p[0] for p in _PURCHASE_PERSONAS], dtype=object)[persona],
                      index=pd.Index(ids, name="user"), name="persona")
    return events.reset_index(drop=True), truth


def load_purchase_log(db: Path, seed: int, folder: Path, customers: int = 4000) -> pd.Series:
    from segmentation.data import store
    from segmentation.ingest.files import ingest_file

    events, truth = purchase_log(seed, customers)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"purchase_log_{seed}.csv"
    events.to_csv(path, index=False)
    with store.connect(db) as con:
        ingest_file(con, path, mapping=sc.COLUMN_MAP, now=pd.Timestamp("2025-07-02").to_pydatetime())
    return truth
