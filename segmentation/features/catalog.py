"""The feature catalog: every column a feature table can have, with a label, a description and a
kind, so that profiles and the UI can say "3.1× more app use". Static features come from
``queries/features/events_select_customer_features.sql``; channel and category columns are made per data set
(:func:`feature_catalog`, :func:`channel_feature`, :func:`category_feature`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from segmentation.data.queries import load_query

__all__ = ["KINDS", "MAX_CATEGORIES", "Feature", "STATIC_FEATURES", "TYPE_COLUMN", "CHANNEL_WORDING", "slugify",
           "channel_feature", "category_feature", "feature_catalog"]

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


# (feature, event types the data must contain for it to be defined)
STATIC_FEATURES: list[tuple[Feature, tuple[str, ...]]] = [
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
TYPE_COLUMN = {
    "view": "event_view", "search": "event_search", "cart": "event_cart",
    "purchase": "event_purchase", "refund": "event_refund", "email_open": "event_email_open",
    "email_click": "event_email_click", "app_open": "event_app_open",
    "store_visit": "event_store_visit", "other": "event_other",
}

# Labels and descriptions for the channels of the data contract (DESIGN §3).
CHANNEL_WORDING = {
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


def channel_feature(channel: str) -> Feature:
    slug = slugify(channel)
    label, where = CHANNEL_WORDING.get(slug, (f"{channel} channel activity", f"the {channel} channel"))
    return Feature(f"channel_{slug}", label, f"share of the customer's events on {where}", "share")


def category_feature(category: str, folded: bool = False) -> Feature:
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
    catalog = [feature for feature, _ in STATIC_FEATURES]
    if con is None:
        return catalog
    values = con.execute(load_query("events_count_feature_values")).df()
    seen = {f.name for f in catalog}
    for dimension, make in (("channel", channel_feature), ("category", category_feature)):
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
            catalog.append(category_feature("", folded=True))
    return catalog


# The value a customer without the activity gets, where it is not 0 (see queries/features/events_select_customer_features.sql).
# cart_abandonment: with no cart addition at all the SQL's prior is 0.5, so everyone gets 0.5.
