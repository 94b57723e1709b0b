"""Planted scenarios that are harder than the demo and not the demo (issue 9 / 14).

A generator separate from :mod:`segmentation.demo.generate`: it writes a CSV file with its own
column names (``user, when, what, where, cat, price, qty``) that goes through
:func:`segmentation.ingest.files.ingest_file` like a user's data, plus the truth of each
customer. Nothing here is read by the engine.

Knobs (:class:`Scenario`):

* ``n_personas`` (4–15) and ``smallest`` / ``largest``: persona shares run
  geometrically from the smallest to the largest (1 %–40 %);
* ``overlap`` (0–1): personas are *combinations* of shared behaviour atoms (a channel
  mix, an event mix, a category mix, a time-of-day/weekend rhythm); every atom is used
  by several personas, any two personas differ in at least two of the four families, and
  ``overlap`` blends each atom toward the population mix so no share is a signature;
* ``events``: mean events per customer in the window (log-normal spread, at least
  ``min_events``), 2–100;
* heavy-tailed spend: log-normal baskets with a Pareto tail for a few big orders;
* ``purchase_only``: only purchase events (no web/app/email); personas are value and
  rhythm (one-time buyers, loyal big spenders, lapsed, seasonal, new, bargain regulars …);
* ``random_share``: customers with uniformly random behaviour (truth ``"(random)"``);
* ``mixed_share``: customers who mix two personas 65/35 (truth: the main one).

Ground truth is one label per customer. :data:`SCENARIOS` names the suite;
:data:`TUNING_SEEDS` (0–9) choose every default, :data:`HELDOUT_SEEDS` (100–104) are
the only ones reported.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Scenario", "SCENARIOS", "TUNING_SEEDS", "HELDOUT_SEEDS", "generate", "write_csv",
           "load_into", "RANDOM", "COLUMN_MAP"]

TUNING_SEEDS = tuple(range(10))
HELDOUT_SEEDS = tuple(range(100, 105))
RANDOM = "(random)"
AS_OF = date(2025, 9, 30)

#: The file's own column names → the workbench's canonical names (what a user passes as --map).
COLUMN_MAP = {"customer_id": "user", "ts": "when", "event_type": "what", "channel": "where",
              "category": "cat", "amount": "price", "quantity": "qty"}

_EVENT_TYPES = ("view", "search", "cart", "purchase", "refund", "email_open", "email_click",
                "app_open", "store_visit")
_CHANNELS = ("web", "app", "email", "store", "social", "ads")
_CATEGORIES = ("garden", "toys", "kitchen", "outdoor", "beauty", "pets", "music", "tools", "bags",
               "sport", "health", "stationery")
# Time atoms: probabilities of night, morning, afternoon, evening, and of a weekend day.
_HOUR_BLOCKS = ((0, 6), (6, 12), (12, 18), (18, 24))


@dataclass(frozen=True)
class Scenario:
    """One planted data set's knobs (see the module docstring)."""

    name: str
    n_personas: int = 7
    customers: int = 4000
    smallest: float = 0.03
    largest: float = 0.30
    overlap: float = 0.3
    events: float = 40.0
    min_events: int = 2
    window_days: int = 90
    purchase_only: bool = False
    random_share: float = 0.0
    mixed_share: float = 0.0
    description: str = ""

    @property
    def sparse(self) -> bool:
        """At most 10 events per customer in the window (on average)."""
        return self.events <= 10


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("rich_7", n_personas=7, events=50, overlap=0.3, smallest=0.04, largest=0.30,
             description="7 personas, about 50 events each in 90 days, moderate overlap"),
    Scenario("sparse_overlap_7", n_personas=7, events=6, overlap=0.2, window_days=30, smallest=0.05,
             largest=0.30, description="7 overlapping personas, about 6 events each in 30 days"),
    Scenario("many_small_12", n_personas=12, events=30, overlap=0.3, smallest=0.015, largest=0.25,
             customers=6000, description="12 personas, the smallest 1.5 % of customers"),
    Scenario("imbalanced_5", n_personas=5, events=20, overlap=0.35, smallest=0.02, largest=0.40,
             description="5 personas from 2 % to 40 %"),
    Scenario("sparse_noisy_6", n_personas=6, events=8, overlap=0.2, random_share=0.05, mixed_share=0.10,
             window_days=60, description="6 personas, about 8 events, 5 % random and 10 % mixed customers"),
    Scenario("heavy_overlap_8", n_personas=8, events=25, overlap=0.6, smallest=0.04, largest=0.25,
             description="8 personas blended far toward the population mix"),
    Scenario("few_dense_4", n_personas=4, events=100, overlap=0.5, smallest=0.10, largest=0.40,
             description="4 strongly overlapping personas, about 100 events each"),
    Scenario("many_15", n_personas=15, events=40, overlap=0.25, smallest=0.01, largest=0.15,
             customers=8000, description="15 personas, the smallest 1 % of customers"),
    Scenario("purchases_6", n_personas=6, events=4, purchase_only=True, window_days=180, smallest=0.06,
             largest=0.30, description="purchase log only: value and rhythm personas, 180 days"),
    Scenario("purchases_noisy_5", n_personas=5, events=4, purchase_only=True, window_days=365,
             smallest=0.08, largest=0.35, random_share=0.03, mixed_share=0.05,
             description="purchase log only, a year, with random and mixed customers"),
)}


def _shares(n: int, smallest: float, largest: float, rng: np.random.Generator) -> np.ndarray:
    """Persona shares from ``smallest`` to ``largest`` (geometric), normalised, shuffled."""
    raw = np.geomspace(smallest, largest, n) if n > 1 else np.array([1.0])
    raw = raw / raw.sum()
    return rng.permutation(raw)


def _atoms(n_atoms: int, n_values: int, overlap: float, rng: np.random.Generator,
           concentration: float = 0.35) -> np.ndarray:
    """``n_atoms`` probability vectors over ``n_values``, blended by ``overlap`` toward their mean."""
    atoms = rng.dirichlet(np.full(n_values, concentration), size=n_atoms)
    atoms = np.maximum(atoms, 1e-3)
    atoms /= atoms.sum(axis=1, keepdims=True)
    mean = atoms.mean(axis=0, keepdims=True)
    return (1 - overlap) * atoms + overlap * mean


def _combinations(n_personas: int, n_atoms: int, rng: np.random.Generator) -> np.ndarray:
    """One atom index per family (4 families) per persona: all distinct, pairwise differing in ≥ 2."""
    grid = np.array(list(itertools.product(range(n_atoms), repeat=4)))
    for _ in range(200):
        order = rng.permutation(len(grid))
        chosen: list[np.ndarray] = []
        for i in order:
            if all((grid[i] != c).sum() >= 2 for c in chosen):
                chosen.append(grid[i])
                if len(chosen) == n_personas:
                    return np.array(chosen)
    raise ValueError(f"cannot place {n_personas} personas on {n_atoms} atoms per family")


def _behaviour_personas(s: Scenario, rng: np.random.Generator) -> list[dict]:
    n_atoms = max(3, int(np.ceil(s.n_personas ** 0.5)) + 1)
    combos = _combinations(s.n_personas, n_atoms, rng)
    channel = _atoms(n_atoms, len(_CHANNELS), s.overlap, rng)
    etype = _atoms(n_atoms, len(_EVENT_TYPES), s.overlap, rng, concentration=0.6)
    category = _atoms(n_atoms, len(_CATEGORIES), s.overlap, rng)
    hours = _atoms(n_atoms, 4, s.overlap, rng, concentration=0.8)
    weekend = (1 - s.overlap) * rng.uniform(0.1, 0.7, n_atoms) + s.overlap * 0.3
    personas = []
    for c in combos:
        personas.append({"channel": channel[c[0]], "etype": etype[c[1]], "category": category[c[2]],
                         "hours": hours[c[3]], "weekend": weekend[c[3]],
                         "activity": float(np.exp(rng.normal(0, 0.25))),
                         "basket": float(rng.uniform(2.8, 4.6))})
    return personas


# Purchase-only personas: value and rhythm. (name, purchases (low, high), basket log-median,
# where in the window the purchases fall: (start, end) as fractions of the window)
_VALUE_PERSONAS = (
    ("one-time buyers", (1, 1), 3.6, (0.0, 1.0)),
    ("loyal big spenders", (8, 16), 5.2, (0.0, 1.0)),
    ("lapsed customers", (2, 5), 3.9, (0.0, 0.3)),
    ("seasonal shoppers", (2, 5), 4.2, (0.55, 0.65)),
    ("new customers", (1, 3), 3.7, (0.88, 1.0)),
    ("bargain regulars", (6, 12), 2.6, (0.0, 1.0)),
    ("premium occasional", (1, 3), 6.0, (0.0, 1.0)),
    ("steady mid spenders", (3, 6), 4.0, (0.0, 1.0)),
)


def _value_personas(s: Scenario, rng: np.random.Generator) -> list[dict]:
    if s.n_personas > len(_VALUE_PERSONAS):
        raise ValueError(f"purchase-only scenarios have at most {len(_VALUE_PERSONAS)} personas")
    chosen = rng.choice(len(_VALUE_PERSONAS), size=s.n_personas, replace=False)
    category = _atoms(3, len(_CATEGORIES), 0.5, rng)
    personas = []
    for i in sorted(chosen):
        name, (lo, hi), basket, (start, end) = _VALUE_PERSONAS[i]
        personas.append({"name": name, "purchases": (lo, hi), "basket": basket, "span": (start, end),
                         "category": category[rng.integers(3)], "store": float(rng.uniform(0.1, 0.6))})
    return personas


def _uniform_persona(purchase_only: bool) -> dict:
    if purchase_only:
        return {"name": RANDOM, "purchases": (1, 10), "basket": 4.0, "span": (0.0, 1.0),
                "category": np.full(len(_CATEGORIES), 1 / len(_CATEGORIES)), "store": 0.5, "random": True}
    return {"channel": np.full(len(_CHANNELS), 1 / len(_CHANNELS)),
            "etype": np.full(len(_EVENT_TYPES), 1 / len(_EVENT_TYPES)),
            "category": np.full(len(_CATEGORIES), 1 / len(_CATEGORIES)),
            "hours": np.full(4, 0.25), "weekend": 2 / 7, "activity": 1.0, "basket": 3.7, "random": True}


def _days(window_days: int, n: int, weekend_p: np.ndarray | float, span: tuple[float, float],
          rng: np.random.Generator) -> np.ndarray:
    """Day offsets (0 = first day of the window) inside ``span``, weekend days with probability ``weekend_p``."""
    first = AS_OF - timedelta(days=window_days - 1)
    lo = int(span[0] * (window_days - 1))
    hi = max(lo + 1, int(np.ceil(span[1] * window_days)))
    offsets = np.arange(lo, min(hi, window_days))
    is_weekend = np.array([(first + timedelta(days=int(o))).weekday() >= 5 for o in offsets])
    weekend_days, week_days = offsets[is_weekend], offsets[~is_weekend]
    if len(weekend_days) == 0 or len(week_days) == 0:
        return rng.choice(offsets, size=n)
    pick_weekend = rng.random(n) < weekend_p
    return np.where(pick_weekend, rng.choice(weekend_days, size=n), rng.choice(week_days, size=n))


def _amounts(log_median: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heavy-tailed baskets: log-normal, and one order in twenty from a Pareto tail (×1–30)."""
    base = np.exp(log_median + rng.normal(0, 0.5, len(log_median)))
    tail = rng.random(len(log_median)) < 0.05
    base[tail] *= np.minimum(rng.pareto(1.5, int(tail.sum())) + 1, 30)
    return np.round(np.maximum(base, 0.5), 2)


def _behaviour_events(s, personas, main, other, weight, rng) -> dict[str, np.ndarray]:
    n_customers = len(main)
    activity = np.array([p["activity"] for p in personas])[main]
    lam = s.events * activity * np.exp(rng.normal(0, 0.5, n_customers) - 0.125)
    counts = np.maximum(rng.poisson(lam), s.min_events)
    owner = np.repeat(np.arange(n_customers), counts)
    # each event comes from the main persona, or (mixed customers) from the second one
    from_other = rng.random(len(owner)) >= weight[owner]
    source = np.where(from_other, other[owner], main[owner])
    cols: dict[str, np.ndarray] = {}
    for key, values in (("etype", _EVENT_TYPES), ("channel", _CHANNELS), ("category", _CATEGORIES),
                        ("hours", np.arange(4))):
        table = np.stack([p[key] for p in personas])
        cdf = np.cumsum(table, axis=1)[source]
        pick = (rng.random((len(source), 1)) > cdf).sum(axis=1).clip(0, len(values) - 1)
        cols[key] = np.asarray(values)[pick]
    weekend = np.array([p["weekend"] for p in personas])[source]
    days = _days(s.window_days, len(weekend), weekend, (0.0, 1.0), rng)
    block = np.array(_HOUR_BLOCKS)[cols["hours"]]
    seconds = rng.integers(block[:, 0] * 3600, block[:, 1] * 3600)
    etype = cols["etype"]
    money = (etype == "purchase") | (etype == "refund")
    basket = np.array([p["basket"] for p in personas])[source]
    amount = np.where(money, _amounts(basket, rng), 0.0)
    return {"owner": owner, "day": days, "second": seconds, "etype": etype, "channel": cols["channel"],
            "category": np.where(np.isin(etype, ("email_open", "email_click", "app_open")), "",
                                 cols["category"]),
            "amount": amount}


def _purchase_events(s, personas, main, other, weight, rng) -> dict[str, np.ndarray]:
    owners, days = [], []
    for customer, (m, o, w) in enumerate(zip(main, other, weight)):
        p = personas[m]
        lo, hi = p["purchases"]
        n = int(rng.integers(lo, hi + 1))
        span = p["span"]
        if w < 1 and rng.random() > w:  # mixed: the rhythm of the second persona
            span = personas[o]["span"]
        owners.append(np.full(n, customer))
        days.append(_days(s.window_days, n, 2 / 7, span, rng))
    owner = np.concatenate(owners)
    day = np.concatenate(days)
    source = main[owner]
    basket = np.array([p["basket"] for p in personas])[source]
    store = np.array([p["store"] for p in personas])[source]
    table = np.stack([p["category"] for p in personas])
    cdf = np.cumsum(table, axis=1)[source]
    pick = (rng.random((len(source), 1)) > cdf).sum(axis=1).clip(0, len(_CATEGORIES) - 1)
    return {"owner": owner, "day": day, "second": rng.integers(8 * 3600, 21 * 3600, len(owner)),
            "etype": np.full(len(owner), "purchase"),
            "channel": np.where(rng.random(len(owner)) < store, "store", "web"),
            "category": np.asarray(_CATEGORIES)[pick], "amount": _amounts(basket, rng)}


def generate(scenario: Scenario | str, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Events (the file's own column names) and the true persona per customer (index ``user``)."""
    s = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    rng = np.random.default_rng([seed, sum(map(ord, s.name))])
    personas = _value_personas(s, rng) if s.purchase_only else _behaviour_personas(s, rng)
    names = ([p["name"] for p in personas] if s.purchase_only
             else [f"persona {i + 1}" for i in range(len(personas))])
    shares = _shares(len(personas), s.smallest, s.largest, rng)
    n = s.customers
    n_random = int(round(s.random_share * n))
    main = rng.choice(len(personas), size=n - n_random, p=shares)
    other = (main + rng.integers(1, len(personas), size=len(main))) % len(personas)
    mixed = rng.random(len(main)) < s.mixed_share
    weight = np.where(mixed, 0.65, 1.0)
    personas = personas + [_uniform_persona(s.purchase_only)]
    main = np.concatenate([main, np.full(n_random, len(personas) - 1)])
    other = np.concatenate([other, np.full(n_random, len(personas) - 1)])
    weight = np.concatenate([weight, np.ones(n_random)])
    make = _purchase_events if s.purchase_only else _behaviour_events
    ev = make(s, personas, main, other, weight, rng)
    first = pd.Timestamp(AS_OF - timedelta(days=s.window_days - 1))
    ts = first + pd.to_timedelta(ev["day"], unit="D") + pd.to_timedelta(ev["second"], unit="s")
    ids = np.array([f"u{seed:03d}-{i:05d}" for i in range(n)])
    events = pd.DataFrame({"user": ids[ev["owner"]], "when": ts.strftime("%Y-%m-%d %H:%M:%S"),
                           "what": ev["etype"], "where": ev["channel"], "cat": ev["category"],
                           "price": ev["amount"], "qty": np.where(ev["amount"] > 0, 1, 0)})
    events = events.sort_values(["when", "user"], kind="stable").reset_index(drop=True)
    truth = pd.Series(np.asarray(names + [RANDOM], dtype=object)[main], index=pd.Index(ids, name="user"),
                      name="persona")
    return events, truth


def write_csv(scenario: Scenario | str, seed: int, folder: Path) -> tuple[Path, pd.Series]:
    """Write the scenario's events as ``<name>_<seed>.csv`` in ``folder``; the file and the truth."""
    s = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    events, truth = generate(s, seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{s.name}_{seed}.csv"
    events.to_csv(path, index=False)
    return path, truth


def load_into(db: Path, scenario: Scenario | str, seed: int, folder: Path):
    """Write the CSV and import it through ``ingest`` (as a user would, with ``--map``).

    Returns ``(as_of, window_days, truth)``.
    """
    from segmentation.data import store
    from segmentation.ingest.files import ingest_file

    s = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    path, truth = write_csv(s, seed, folder)
    with store.connect(db) as con:
        ingest_file(con, path, mapping=COLUMN_MAP, now=pd.Timestamp(AS_OF).to_pydatetime() + timedelta(days=2))
    return AS_OF, s.window_days, truth


def small(name: str, customers: int = 1500) -> Scenario:
    """A small instance of a named scenario (for tests)."""
    return replace(SCENARIOS[name], customers=customers)
