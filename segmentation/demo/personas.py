"""Persona definitions of the demo generator: who they are and how they behave.

Each :class:`PersonaSpec` documents one planted persona (the table in
``segmentation.demo.generate`` summarises them). Mixes are relative weights over the
contract vocabularies below; the generator normalises them and jitters them
per customer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENT_TYPES", "CHANNELS", "CATEGORIES", "PersonaSpec", "PERSONAS", "EMERGING", "FADING"]

EVENT_TYPES = ("view", "search", "cart", "purchase", "refund", "email_open", "email_click",
               "app_open", "store_visit")
CHANNELS = ("web", "app", "email", "store", "social", "ads")
CATEGORIES = ("electronics", "fashion", "beauty", "home", "grocery", "gaming", "sports", "books")


@dataclass(frozen=True)
class PersonaSpec:
    """Documented behaviour of one persona (shares are relative weights, normalised on use)."""

    key: str
    label: str
    role: str                       # stable | fading | emerging
    initial_share: float            # share at month 1 (dynamic run)
    stationary_share: float         # constant share with stationary=True
    events_per_month: float         # mean events per active month
    event_mix: dict[str, float]
    shop_channels: dict[str, float]  # channel of view/search/cart/purchase/refund events
    categories: dict[str, float]
    hours: tuple[tuple[float, float, float], ...]  # (centre hour, width in hours, weight)
    weekdays: tuple[float, ...]     # Mon..Sun weights
    basket_median: float            # money per purchase (log-normal median)
    basket_sigma: float             # log-normal sigma
    items_mean: float               # mean quantity per purchase (>= 1)
    churn: float                    # monthly churn probability (dynamic run)
    feeds_emerging: bool = True     # migrants to the emerging persona come from here
    fading_destination: float = 0.0  # weight as a destination of fading-persona migrants


def _p(**weights: float) -> dict[str, float]:
    return weights


PERSONAS: dict[str, PersonaSpec] = {p.key: p for p in [
    PersonaSpec(
        "bargain_web_browsers", "Bargain web browsers", "stable", 0.23, 0.21, 14,
        _p(view=.45, search=.24, cart=.17, purchase=.06, refund=.005, email_open=.04,
           email_click=.01, app_open=.02, store_visit=.005),
        _p(web=.82, ads=.12, app=.06),
        _p(electronics=.32, home=.22, sports=.14, grocery=.12, books=.08, gaming=.05, fashion=.05,
           beauty=.02),
        ((13, 2.5, 1.0), (10, 1.5, 0.5)), (1.1, 1.1, 1.1, 1.1, 1.0, 0.7, 0.7),
        28, 0.5, 1.5, 0.02, fading_destination=0.2),
    PersonaSpec(
        "loyal_app_shoppers", "Loyal app shoppers", "stable", 0.26, 0.22, 11,
        _p(view=.24, search=.06, cart=.12, purchase=.20, refund=.01, email_open=.04,
           email_click=.01, app_open=.31, store_visit=.01),
        _p(app=.90, web=.08, store=.02),
        _p(grocery=.40, home=.22, beauty=.10, fashion=.08, electronics=.08, sports=.06, books=.04,
           gaming=.02),
        ((20, 1.5, 1.0),), (1.0, 1.0, 1.0, 1.1, 1.0, 0.8, 0.9),
        55, 0.35, 3.0, 0.015, fading_destination=0.3),
    PersonaSpec(
        "premium_store_shoppers", "Premium store shoppers", "stable", 0.09, 0.08, 5,
        _p(view=.12, search=.02, cart=.04, purchase=.32, refund=.03, email_open=.06,
           email_click=.02, app_open=.01, store_visit=.38),
        _p(store=.78, web=.20, app=.02),
        _p(fashion=.34, electronics=.30, home=.22, beauty=.08, sports=.06),
        ((14, 2.5, 1.0),), (0.35, 0.35, 0.35, 0.4, 0.6, 2.4, 2.0),
        240, 0.45, 2.0, 0.015, feeds_emerging=False, fading_destination=0.15),
    PersonaSpec(
        "email_deal_hunters", "Email deal hunters", "stable", 0.16, 0.15, 10,
        _p(view=.18, search=.04, cart=.07, purchase=.12, refund=.01, email_open=.34,
           email_click=.22, app_open=.01, store_visit=.01),
        _p(web=.78, app=.12, ads=.10),
        _p(home=.28, sports=.22, electronics=.18, grocery=.12, fashion=.10, books=.06, beauty=.03,
           gaming=.01),
        ((8, 1.2, 1.0), (12.5, 1.0, 0.5)), (1.2, 1.4, 1.1, 1.4, 1.0, 0.5, 0.4),
        38, 0.45, 2.0, 0.02, fading_destination=0.35),
    PersonaSpec(
        "night_owl_app_gamers", "Night-owl app gamers", "stable", 0.11, 0.11, 13,
        _p(view=.28, search=.10, cart=.08, purchase=.22, refund=.01, email_open=.02,
           app_open=.29),
        _p(app=.82, web=.18),
        _p(gaming=.70, electronics=.20, books=.04, sports=.03, fashion=.03),
        ((0.5, 1.6, 1.0),), (0.9, 0.9, 0.9, 1.0, 1.3, 1.3, 1.0),
        12, 0.5, 1.0, 0.025),
    PersonaSpec(
        "serial_returners", "Serial returners", "stable", 0.04, 0.04, 9,
        _p(view=.30, search=.07, cart=.12, purchase=.22, refund=.17, email_open=.06,
           email_click=.03, app_open=.03),
        _p(web=.62, app=.30, social=.08),
        _p(fashion=.78, beauty=.10, sports=.08, home=.04),
        ((21.5, 1.5, 1.0), (12.5, 1.0, 0.5)), (1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2),
        75, 0.4, 2.0, 0.02),
    PersonaSpec(
        "desktop_newsletter_readers", "Desktop newsletter readers", "fading", 0.11, 0.10, 8,
        _p(view=.36, search=.05, cart=.03, purchase=.07, refund=.005, email_open=.40,
           email_click=.08, store_visit=.005),
        _p(web=.96, store=.02, ads=.02),
        _p(books=.58, home=.16, electronics=.12, sports=.06, grocery=.05, fashion=.03),
        ((10.5, 2.2, 1.0), (15, 1.5, 0.6)), (1.3, 1.3, 1.3, 1.3, 1.2, 0.2, 0.2),
        22, 0.35, 1.5, 0.07, feeds_emerging=False),
    PersonaSpec(
        "social_live_shoppers", "Social live-shoppers", "emerging", 0.0, 0.09, 10,
        _p(view=.36, search=.03, cart=.16, purchase=.20, refund=.03, email_open=.02,
           app_open=.05),
        _p(social=.62, ads=.30, app=.08),
        _p(beauty=.66, fashion=.24, home=.05, grocery=.03, sports=.02),
        ((22, 1.3, 1.0),), (0.9, 0.9, 1.0, 1.1, 1.2, 1.1, 1.0),
        32, 0.4, 1.5, 0.02, feeds_emerging=False),
]}
EMERGING = next(p.key for p in PERSONAS.values() if p.role == "emerging")
FADING = next(p.key for p in PERSONAS.values() if p.role == "fading")
