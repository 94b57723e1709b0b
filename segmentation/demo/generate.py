"""Synthetic behavioural data with planted, evolving personas and ground truth.

``generate`` builds events, customers and ``demo_truth`` (the persona of every
active customer in every month) from a seed, on a fixed calendar that starts
at ``start`` (default 2025-01-01), so results never depend on today's date.
``write_demo`` stores them in one transaction; ``create_demo`` does both.

Personas (share of active customers in months 1 → 4 → 12 of the default run,
20,000 customers, seed 7)

==========================  ====================  ===========================================================
persona                     share                 behaviour
==========================  ====================  ===========================================================
bargain_web_browsers        23 → 23 → 22 %        web (+ads); many views and searches, carts left behind, few
                                                  small purchases (median ~28); electronics/home; weekday
                                                  daytime; ~14 events/month
loyal_app_shoppers          26 → 27 → 26 %        mobile app; frequent mid-value baskets (median ~55, ~3
                                                  items); grocery/home; evenings around 20:00; ~11/month
premium_store_shoppers      9 → 9 → 9 %           store visits and store purchases; high baskets (median
                                                  ~240); fashion/electronics; weekend afternoons; low
                                                  frequency (~5 events/month)
email_deal_hunters          16 → 16 → 16 %        opens and clicks most e-mails and buys on the web in the
                                                  same early-morning / lunch, Tue/Thu rhythm; home/sports;
                                                  ~10 events/month
night_owl_app_gamers        11 → 11 → 10 %        app around midnight; gaming; small (median ~12), frequent
                                                  purchases; Fri/Sat nights; ~13 events/month
serial_returners            4 → 4 → 4 % (small)   fashion on web and app; ~3 refunds for every 4 purchases;
                                                  late evenings; ~9 events/month
desktop_newsletter_readers  11 → 7 → 2 % FADING   desktop web and newsletters (opens, few clicks); books;
                                                  weekday office hours; shrinks by churn and by migration
social_live_shoppers        0 → 2 → 11 %          social/ads live shopping; beauty/fashion; late night;
                            EMERGING              absent in months 1-3, then fed by sign-ups and migrants
==========================  ====================  ===========================================================

Dynamics (unless ``stationary``): 62 % of customers are there in month 1, the
rest sign up evenly over the following months; 1.5-2.5 % churn per month (7 %
for the fading persona, which also loses 4.5 % a month to migration); about
0.3 % of the other customers move to another persona each month, and from
month 4 on 0.4 % of most personas move to the emerging one. Migrations happen
at month boundaries. ``stationary=True`` has everyone from month 1, a constant
persona mix and no churn or migration.

Noise: per-customer Dirichlet jitter of every mix, gamma activity levels,
gamma-Poisson (negative binomial) monthly counts, log-normal amounts, a weekly
rhythm per persona and a seasonal one (November/December peak).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Optional

import numpy as np
import pandas as pd

from segmentation.demo.customers import fake_customers
from segmentation.demo.personas import CATEGORIES, CHANNELS, EMERGING, EVENT_TYPES, FADING, PERSONAS, PersonaSpec
from segmentation.errors import InputError, WorkbenchError
from segmentation.data.store import transaction

__all__ = [
    "EVENT_TYPES", "CHANNELS", "CATEGORIES", "PERSONAS", "EMERGING", "FADING", "EMERGE_MONTH",
    "PersonaSpec", "DemoData", "generate", "write_demo", "create_demo",
]

DEFAULT_START = date(2025, 1, 1)
EMERGE_MONTH = 3            # 0-based: the emerging persona is absent in months 0, 1, 2
FIRST_MONTH_SHARE = 0.62    # customers present from the first month; the rest sign up later
EMERGING_SIGNUP_SHARE = 0.25
ORDINARY_MIGRATION = 0.003  # per month, between stable personas
EMERGING_INFLOW = 0.004     # per month, from each feeder persona once emergence began
FADING_MIGRATION = 0.045    # per month, out of the fading persona
# Seasonal multiplier of activity by calendar month (Jan..Dec): November/December peak.
SEASON = np.array([0.92, 0.88, 0.95, 0.97, 1.0, 0.95, 0.93, 0.97, 1.0, 1.05, 1.30, 1.45])
# Per-customer jitter: Dirichlet concentration (higher = closer to the persona mix).
_ALPHA = {"events": 90.0, "channels": 60.0, "categories": 50.0, "weekdays": 60.0}
_GENERATOR_VERSION = 1


def _vector(weights: dict[str, float], names: tuple[str, ...], floor: float = 0.0) -> np.ndarray:
    unknown = set(weights) - set(names)
    if unknown:
        raise ValueError(f"unknown names {sorted(unknown)}")
    v = np.array([weights.get(n, 0.0) for n in names], dtype=float) + floor
    return v / v.sum()


def _hour_profile(peaks: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    hours = np.arange(24) + 0.5
    profile = np.full(24, 0.01)
    for centre, width, weight in peaks:
        gap = np.abs(hours - centre)
        gap = np.minimum(gap, 24 - gap)  # circular: 23:00 is close to 01:00
        profile += weight * np.exp(-0.5 * (gap / width) ** 2)
    return profile / profile.sum()


_KEYS = list(PERSONAS)
_SPECS = list(PERSONAS.values())
_P = len(_SPECS)
_EVENT_MIX = np.stack([_vector(s.event_mix, EVENT_TYPES, 0.001) for s in _SPECS])
_CHANNEL_MIX = np.stack([_vector(s.shop_channels, CHANNELS) for s in _SPECS])
_CATEGORY_MIX = np.stack([_vector(s.categories, CATEGORIES, 0.002) for s in _SPECS])
_WEEKDAY_MIX = np.stack([np.array(s.weekdays) / sum(s.weekdays) for s in _SPECS])
_HOUR_MIX = np.stack([_hour_profile(s.hours) for s in _SPECS])
_RATE = np.array([s.events_per_month for s in _SPECS])
_BASKET_LOG_MEDIAN = np.log([s.basket_median for s in _SPECS])
_BASKET_SIGMA = np.array([s.basket_sigma for s in _SPECS])
_ITEMS_MEAN = np.array([s.items_mean for s in _SPECS])
_CHURN = np.array([s.churn for s in _SPECS])
_ROLE = np.array([s.role for s in _SPECS])
_STABLE = np.flatnonzero(_ROLE == "stable")
_E = _KEYS.index(EMERGING)
_F = _KEYS.index(FADING)
# Non-shopping event types always happen on their own channel.
_FIXED_CHANNEL = {"email_open": "email", "email_click": "email", "app_open": "app",
                  "store_visit": "store"}


@dataclass
class DemoData:
    """Generated tables (pandas) and the parameters that produced them."""

    events: pd.DataFrame      # customer_id, ts, event_type, channel, category, amount, quantity
    customers: pd.DataFrame   # customer_id, email, phone, first_name, last_name, country, zip, ...
    truth: pd.DataFrame       # customer_id, month (first day), persona
    params: dict = field(default_factory=dict)


def _sample_rows(probs: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per element of ``rows`` from ``probs[rows]`` (inverse CDF, vectorised).

    Rows are laid end to end on one increasing axis (row r occupies (r, r+1]),
    so a single ``searchsorted`` serves millions of draws without an E×K matrix.
    """
    n_rows, k = probs.shape
    rows = rows.astype(np.int64, copy=False)  # rows * k must not overflow a small dtype
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + rng.random(rows.size), side="right")
    return np.minimum(pos - rows * k, k - 1).astype(np.int8 if k < 128 else np.int64)


def _dirichlet_rows(base: np.ndarray, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Per-row Dirichlet draws centred on ``base`` rows (gamma trick, vectorised)."""
    g = rng.gamma(alpha * base)
    g += 1e-12 * base  # keep rows summing to > 0 even if every gamma underflowed
    return g / g.sum(axis=1, keepdims=True)


def _transition_matrix(month: int) -> np.ndarray:
    """Monthly persona transition probabilities (rows: from, columns: to) at a month boundary."""
    rates = np.zeros((_P, _P))
    initial = np.array([s.initial_share for s in _SPECS])
    for s in _STABLE:
        others = _STABLE[_STABLE != s]
        rates[s, others] = ORDINARY_MIGRATION * initial[others] / initial[others].sum()
        if month >= EMERGE_MONTH and _SPECS[s].feeds_emerging:
            rates[s, _E] = EMERGING_INFLOW
    destinations = np.array([s.fading_destination for s in _SPECS])
    rates[_F] = FADING_MIGRATION * destinations / destinations.sum()
    if month >= EMERGE_MONTH:
        rates[_E, _STABLE] = ORDINARY_MIGRATION * initial[_STABLE] / initial[_STABLE].sum()
    np.fill_diagonal(rates, 1.0 - rates.sum(axis=1))
    return rates


def _signup_mix(month: int) -> np.ndarray:
    """Persona mix of customers who sign up in ``month`` (nobody new joins the fading persona)."""
    mix = np.array([s.initial_share for s in _SPECS])
    mix[_F] = 0.0
    mix /= mix.sum()
    if month >= EMERGE_MONTH:
        mix *= 1.0 - EMERGING_SIGNUP_SHARE
        mix[_E] = EMERGING_SIGNUP_SHARE
    return mix


def _simulate(n: int, months: int, stationary: bool, rng: np.random.Generator) -> np.ndarray:
    """Persona index of every customer in every month (-1: not yet signed up, or churned)."""
    state = np.full((n, months), -1, dtype=np.int8)
    if stationary:
        mix = np.array([s.stationary_share for s in _SPECS])
        state[:] = rng.choice(_P, size=n, p=mix / mix.sum())[:, None]
        return state
    n_first = n if months == 1 else int(round(n * FIRST_MONTH_SHARE))
    # Sorted so customer numbers grow with the sign-up month.
    signup = np.sort(np.concatenate([
        np.zeros(n_first, dtype=np.int64), rng.integers(1, max(months, 2), size=n - n_first)]))
    initial = np.array([s.initial_share for s in _SPECS])
    state[signup == 0, 0] = rng.choice(_P, size=n_first, p=initial / initial.sum())
    for m in range(1, months):
        prev = state[:, m - 1]
        active = np.flatnonzero(prev >= 0)
        persona = prev[active].astype(np.int64)
        stays = rng.random(active.size) >= _CHURN[persona]
        active, persona = active[stays], persona[stays]
        state[active, m] = _sample_rows(_transition_matrix(m), persona, rng)
        joiners = np.flatnonzero(signup == m)
        state[joiners, m] = rng.choice(_P, size=joiners.size, p=_signup_mix(m))
    return state


def _month_calendar(start: date, months: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Month start (days since epoch), and the day offsets of each weekday inside each month."""
    first = np.datetime64(start.replace(day=1), "M") + np.arange(months + 1)
    first_day = first.astype("datetime64[D]").astype(np.int64)
    days_by_weekday = np.zeros((months, 7, 5), dtype=np.int64)
    count = np.zeros((months, 7), dtype=np.int64)
    for m in range(months):  # a loop over months, not events
        offsets = np.arange(first_day[m + 1] - first_day[m])
        weekday = (first_day[m] + offsets + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        for d in range(7):
            hit = offsets[weekday == d]
            days_by_weekday[m, d, : hit.size] = hit
            count[m, d] = hit.size
    return first_day[:-1], days_by_weekday, count


def _customer_ids(n: int) -> np.ndarray:
    width = max(7, len(str(n)))
    return np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _events(state: np.ndarray, start: date, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """Event columns (codes and numbers) for every active customer-month of ``state``."""
    months = state.shape[1]
    cust, month = np.nonzero(state >= 0)
    persona = state[cust, month].astype(np.int64)
    # A profile is one (customer, persona): a migrant behaves like the new persona.
    profile_key, profile = np.unique(cust * _P + persona, return_inverse=True)
    prof_persona = profile_key % _P
    n_prof = profile_key.size
    event_mix = _dirichlet_rows(_EVENT_MIX[prof_persona], _ALPHA["events"], rng)
    channel_mix = _dirichlet_rows(_CHANNEL_MIX[prof_persona], _ALPHA["channels"], rng)
    category_mix = _dirichlet_rows(_CATEGORY_MIX[prof_persona], _ALPHA["categories"], rng)
    weekday_mix = _dirichlet_rows(_WEEKDAY_MIX[prof_persona], _ALPHA["weekdays"], rng)
    activity = rng.gamma(4.0, 1 / 4.0, n_prof)          # some customers are busier than others
    hour_shift = rng.normal(0.0, 0.6, n_prof)            # personal clock, hours
    basket_shift = rng.normal(0.0, 0.25, n_prof)         # personal spend level, log money

    first_day, days_by_weekday, weekday_count = _month_calendar(start, months)
    calendar_month = (start.month - 1 + np.arange(months)) % 12
    # Gamma-Poisson: the monthly count is over-dispersed (negative binomial).
    lam = (_RATE[persona] * activity[profile] * SEASON[calendar_month[month]]
           * rng.gamma(6.0, 1 / 6.0, cust.size))
    counts = np.maximum(rng.poisson(lam), 1)  # an active month has at least one event

    pair = np.repeat(np.arange(cust.size), counts)
    ev_prof = profile[pair]
    ev_persona = persona[pair].astype(np.int8)
    ev_month = month[pair].astype(np.int16)
    etype = _sample_rows(event_mix, ev_prof, rng)
    channel = _sample_rows(channel_mix, ev_prof, rng)
    for type_name, channel_name in _FIXED_CHANNEL.items():
        channel[etype == EVENT_TYPES.index(type_name)] = CHANNELS.index(channel_name)
    category = _sample_rows(category_mix, ev_prof, rng)
    category[etype == EVENT_TYPES.index("app_open")] = -1  # opening the app has no category

    weekday = _sample_rows(weekday_mix, ev_prof, rng)
    slot = (rng.random(pair.size) * weekday_count[ev_month, weekday]).astype(np.int64)
    day = first_day[ev_month] + days_by_weekday[ev_month, weekday, slot]
    hour = _sample_rows(_HOUR_MIX, ev_persona, rng) + rng.random(pair.size) + hour_shift[ev_prof]
    seconds = (np.mod(hour, 24.0) * 3600).astype(np.int64)
    ts = (day * 86_400 + seconds) * 1_000_000
    del weekday, slot, day, hour, seconds  # keep the peak memory low at 10M+ events

    is_purchase = etype == EVENT_TYPES.index("purchase")
    is_refund = etype == EVENT_TYPES.index("refund")
    money = is_purchase | is_refund
    amount = np.zeros(pair.size)
    log_amount = (_BASKET_LOG_MEDIAN[ev_persona[money]] + basket_shift[ev_prof[money]]
                  + _BASKET_SIGMA[ev_persona[money]] * rng.standard_normal(int(money.sum())))
    amount[money] = np.maximum(np.round(np.exp(log_amount), 2), 0.5)
    quantity = np.zeros(pair.size)
    quantity[is_purchase] = 1 + rng.poisson(_ITEMS_MEAN[ev_persona[is_purchase]] - 1)
    quantity[is_refund] = 1 + rng.poisson(0.2, int(is_refund.sum()))
    is_cart = etype == EVENT_TYPES.index("cart")
    quantity[is_cart] = 1 + rng.poisson(0.3, int(is_cart.sum()))

    del ev_prof, ev_persona, ev_month, is_purchase, is_refund, is_cart, money
    order = np.argsort(ts, kind="stable")
    columns = {"customer": cust.astype(np.int32)[pair[order]], "ts": ts[order], "event_type": etype[order],
               "channel": channel[order], "category": category[order],
               "amount": amount[order], "quantity": quantity[order]}
    return columns, np.stack([cust, month, persona], axis=1)


def _check_params(customers: int, months: int, seed: int) -> None:
    if not isinstance(customers, (int, np.integer)) or customers < 1:
        raise InputError(f"--customers must be a whole number of at least 1 (got {customers!r}).")
    if not isinstance(months, (int, np.integer)) or not 1 <= months <= 120:
        raise InputError(f"--months must be a whole number from 1 to 120 (got {months!r}).")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be a non-negative whole number (got {seed!r}).")


def generate(customers: int = 20_000, months: int = 12, seed: int = 7,
             start: date = DEFAULT_START, stationary: bool = False) -> DemoData:
    """Generate demo events, customers and persona truth (pure: no database, no clock).

    ``customers`` is the number of distinct customers over the whole horizon;
    ``months`` calendar months are covered from ``start`` (a first day of a
    month), so timestamps fall inside [start, start + months). Deterministic in
    ``seed``. About 10 events per active customer-month: ``customers=1_000_000,
    months=1`` gives ~10 M events (~15 s, ~1.6 GB peak on 2 cores).
    """
    _check_params(customers, months, seed)
    if start.day != 1:
        raise InputError(f"The demo calendar starts on the first day of a month (got {start}).")
    rng_dyn, rng_events, rng_people = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    state = _simulate(customers, months, stationary, rng_dyn)
    cols, truth = _events(state, start, rng_events)
    ids = _customer_ids(customers)
    id_type = pd.CategoricalDtype(ids)
    events = pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(cols["customer"], dtype=id_type),
        "ts": cols["ts"].astype("datetime64[us]"),
        "event_type": pd.Categorical.from_codes(cols["event_type"], EVENT_TYPES),
        "channel": pd.Categorical.from_codes(cols["channel"], CHANNELS),
        "category": pd.Categorical.from_codes(cols["category"], CATEGORIES),
        "amount": cols["amount"],
        "quantity": cols["quantity"],
    })
    month_start = np.datetime64(start, "M") + np.arange(months)
    truth_frame = pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(truth[:, 0], dtype=id_type),
        "month": month_start[truth[:, 1]].astype("datetime64[D]").astype("datetime64[s]"),
        "persona": pd.Categorical.from_codes(truth[:, 2], _KEYS),
    })
    people = fake_customers(ids, rng_people)
    # Last day covered (inclusive): timestamps fall before the day after it.
    end = ((np.datetime64(start, "M") + months).astype("datetime64[D]") - 1).item()
    params = {"customers": int(customers), "months": int(months), "seed": int(seed),
              "start": start.isoformat(), "end": end.isoformat(), "stationary": bool(stationary),
              "generator_version": _GENERATOR_VERSION}
    return DemoData(events=events, customers=people, truth=truth_frame, params=params)


_INSERT_EVENTS = """
INSERT INTO events (customer_id, ts, event_type, channel, category, amount, quantity, ingest_id)
SELECT CAST(customer_id AS VARCHAR), ts, CAST(event_type AS VARCHAR), CAST(channel AS VARCHAR),
       CAST(category AS VARCHAR), amount, quantity, NULL
FROM demo_events_frame
"""
_INSERT_CUSTOMERS = """
INSERT INTO customers (customer_id, email, phone, first_name, last_name, country, zip, city,
                       state, consent_ads, ingest_id)
SELECT customer_id, email, phone, first_name, last_name, country, zip, city, state, consent_ads,
       NULL
FROM demo_customers_frame
"""
_INSERT_TRUTH = """
INSERT INTO demo_truth (customer_id, month, persona)
SELECT CAST(customer_id AS VARCHAR), CAST(month AS DATE), CAST(persona AS VARCHAR)
FROM demo_truth_frame
"""
_INSERT_INGEST = """
INSERT INTO ingests (ingest_id, created_at, kind, file, fingerprint, n_rows, options)
SELECT coalesce(max(ingest_id), 0) + 1, current_timestamp, 'demo', $file, $fingerprint, $n_rows,
       CAST($options AS JSON)
FROM ingests
"""
DEMO_TABLES = ("events", "customers", "demo_truth")


def _existing_rows(con) -> dict[str, int]:
    # fetchall() (not fetchone) so no unfinished result blocks con.register() in DuckDB 2.
    counts = con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM customers), "
        "(SELECT count(*) FROM demo_truth)").fetchall()[0]
    return dict(zip(DEMO_TABLES, (int(c) for c in counts)))


def _refuse_if_filled(existing: dict[str, int]) -> None:
    if any(existing.values()):
        raise WorkbenchError(
            f"The database already holds {existing['events']:,} events and "
            f"{existing['customers']:,} customers; run demo with --replace to delete them "
            "and write new demo data.")


def persona_counts(truth: pd.DataFrame, month_index: int = -1) -> dict[str, int]:
    """Customers per persona in one month of ``truth`` (default: the last month)."""
    months = np.sort(truth["month"].unique())
    at = truth[truth["month"] == months[month_index]]
    counts = at["persona"].astype(str).value_counts()
    return {key: int(counts.get(key, 0)) for key in _KEYS}


def write_demo(con, data: DemoData, replace: bool = False) -> dict:
    """Store ``data`` in events, customers and demo_truth in one transaction.

    Refuses (``WorkbenchError``) when those tables already hold rows, unless
    ``replace``, which first deletes every row of the three tables. Records an
    ``ingests`` row (kind 'demo'). Returns a summary; ``seconds`` is wall time.
    """
    t0 = time.perf_counter()
    params = data.params
    label = (f"demo:seed={params['seed']},customers={params['customers']},"
             f"months={params['months']}" + (",stationary" if params.get("stationary") else ""))
    fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    frames = {"demo_events_frame": data.events, "demo_customers_frame": data.customers,
              "demo_truth_frame": data.truth}
    try:
        with transaction(con):
            existing = _existing_rows(con)
            if not replace:
                _refuse_if_filled(existing)
            else:
                for table in DEMO_TABLES:  # fixed names, never user text
                    con.execute(f"DELETE FROM {table}")
            for name, frame in frames.items():
                con.register(name, frame)
            con.execute(_INSERT_EVENTS)
            con.execute(_INSERT_CUSTOMERS)
            con.execute(_INSERT_TRUTH)
            con.execute(_INSERT_INGEST, {"file": label, "fingerprint": fingerprint,
                                         "n_rows": len(data.events), "options": json.dumps(params)})
    finally:
        for name in frames:
            try:
                con.unregister(name)
            except Exception:  # not registered because we failed before
                pass
    return {
        "customers": len(data.customers), "events": len(data.events),
        "truth_rows": len(data.truth), "months": params["months"], "seed": params["seed"],
        "start": params["start"], "end": params["end"], "stationary": params["stationary"],
        "replaced": {t: n for t, n in existing.items() if n} if replace else {},
        "persona_counts_last_month": persona_counts(data.truth),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def create_demo(con, customers: int = 20_000, months: int = 12, seed: int = 7,
                replace: bool = False, stationary: bool = False,
                progress: Optional[Callable[[str], None]] = None) -> dict:
    """Generate demo data and write it (see :func:`generate`, :func:`write_demo`).

    Refuses before generating when the tables hold rows and ``replace`` is
    false. ``progress`` receives short step messages. ``seconds`` in the
    summary is the total; ``generate_seconds`` and ``write_seconds`` split it.
    """
    say = progress or (lambda message: None)
    t0 = time.perf_counter()
    _check_params(customers, months, seed)
    if not replace:
        _refuse_if_filled(_existing_rows(con))
    say(f"Generating {customers:,} customers over {months} months (seed {seed})…")
    data = generate(customers=customers, months=months, seed=seed, stationary=stationary)
    generated = time.perf_counter()
    say(f"Writing {len(data.events):,} events…")
    summary = write_demo(con, data, replace=replace)
    summary["generate_seconds"] = round(generated - t0, 3)
    summary["write_seconds"] = summary["seconds"]
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    say(f"Done in {summary['seconds']:.1f} s.")
    return summary
