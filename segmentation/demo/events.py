"""Persona dynamics and behaviour of the demo data, as arrays (no frames, no database).

This module holds how the planted personas live (the numbers of the table in
:mod:`segmentation.demo.generate`): :func:`simulate_personas` gives the persona of every
customer in every month — sign-ups, churn and migrations between personas at month
boundaries, the emerging persona from :data:`EMERGE_MONTH` on — and :func:`persona_events`
draws the events of every active customer-month from the persona's mixes, jittered per
customer (Dirichlet), with gamma activity levels, gamma-Poisson monthly counts, log-normal
amounts and weekly and seasonal rhythms. Both are vectorised and deterministic in their
random generator.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from segmentation.demo.personas import CATEGORIES, CHANNELS, EMERGING, EVENT_TYPES, FADING, PERSONAS

__all__ = ["EMERGE_MONTH", "FIRST_MONTH_SHARE", "EMERGING_SIGNUP_SHARE", "ORDINARY_MIGRATION", "EMERGING_INFLOW",
           "FADING_MIGRATION", "SEASON", "simulate_personas", "persona_events"]

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


def simulate_personas(n: int, months: int, stationary: bool, rng: np.random.Generator) -> np.ndarray:
    """Persona index (order of ``PERSONAS``) of every customer in every month (-1: not yet signed up, or churned).

    ``stationary``: everyone from month 1, a constant persona mix, no churn or migration.
    """
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


def persona_events(state: np.ndarray, start: date, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """Event columns (codes and numbers) for every active customer-month of ``state``, and the truth.

    ``state``: as :func:`simulate_personas` returns it; ``start``: first day of month 0.
    The columns (``customer`` index, ``ts`` in microseconds since the epoch, ``event_type``,
    ``channel`` and ``category`` codes into the persona vocabularies, ``amount``, ``quantity``)
    are sorted by time; the truth has one (customer, month, persona) row per active month.
    """
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
