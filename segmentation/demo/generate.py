"""Synthetic behavioural data with planted, evolving personas and ground truth.

This module holds the demo data end to end: :func:`generate` builds events, customers
and ``demo_truth`` (the persona of every active customer in every month) as data frames
from a seed, on a fixed calendar that starts at ``start`` (default 2025-01-01), so
results never depend on today's date — the personas' dynamics and events come from
:mod:`segmentation.demo.events`, the fake customer records from
:mod:`segmentation.demo.customers`. :func:`~segmentation.demo.write.write_demo` stores
them in one transaction; :func:`create_demo` does both.

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

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Optional

import numpy as np
import pandas as pd

from segmentation.demo.customers import fake_customers
from segmentation.demo.events import persona_events, simulate_personas
from segmentation.demo.personas import CATEGORIES, CHANNELS, EVENT_TYPES, PERSONAS
from segmentation.demo.write import existing_rows, refuse_if_filled, write_demo
from segmentation.errors import InputError

__all__ = ["DEFAULT_START", "DemoData", "generate", "create_demo"]

DEFAULT_START = date(2025, 1, 1)
_GENERATOR_VERSION = 1


@dataclass
class DemoData:
    """Generated tables (pandas) and the parameters that produced them."""

    events: pd.DataFrame      # customer_id, ts, event_type, channel, category, amount, quantity
    customers: pd.DataFrame   # customer_id, email, phone, first_name, last_name, country, zip, ...
    truth: pd.DataFrame       # customer_id, month (first day), persona
    params: dict = field(default_factory=dict)


def _customer_ids(n: int) -> np.ndarray:
    width = max(7, len(str(n)))
    return np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


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
    state = simulate_personas(customers, months, stationary, rng_dyn)
    cols, truth = persona_events(state, start, rng_events)
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
        "persona": pd.Categorical.from_codes(truth[:, 2], list(PERSONAS)),
    })
    people = fake_customers(ids, rng_people)
    # Last day covered (inclusive): timestamps fall before the day after it.
    end = ((np.datetime64(start, "M") + months).astype("datetime64[D]") - 1).item()
    params = {"customers": int(customers), "months": int(months), "seed": int(seed),
              "start": start.isoformat(), "end": end.isoformat(), "stationary": bool(stationary),
              "generator_version": _GENERATOR_VERSION}
    return DemoData(events=events, customers=people, truth=truth_frame, params=params)


def create_demo(con, customers: int = 20_000, months: int = 12, seed: int = 7,
                replace: bool = False, stationary: bool = False,
                progress: Optional[Callable[[str], None]] = None) -> dict:
    """Generate demo data and write it (see :func:`generate`, :func:`~segmentation.demo.write.write_demo`).

    Refuses before generating when the tables hold rows and ``replace`` is
    false. ``progress`` receives short step messages. ``seconds`` in the
    summary is the total; ``generate_seconds`` and ``write_seconds`` split it.
    """
    say = progress or (lambda message: None)
    t0 = time.perf_counter()
    _check_params(customers, months, seed)
    if not replace:
        refuse_if_filled(existing_rows(con))
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
