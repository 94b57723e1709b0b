"""The column contract of an import: what ``events`` and ``customers`` files may hold.

This module holds the canonical columns of each kind and the required ones, the known
event types and channels (others become ``'other'``), how a file's column name is matched
to a canonical one (:func:`fold_column`: case, spaces and dashes folded) and the parsing of
the ``--map`` / ``--set`` options (:func:`parse_assignments`). It runs no SQL; reading,
validating and committing a file import it.
"""

from __future__ import annotations

import re

from segmentation.errors import InputError

__all__ = ["EVENT_TYPES", "CHANNELS", "COLUMNS", "REQUIRED", "fold_column", "match_columns", "parse_assignments"]

EVENT_TYPES = ("view", "search", "cart", "purchase", "refund", "email_open", "email_click",
               "app_open", "store_visit", "other")
CHANNELS = ("web", "app", "email", "store", "social", "ads", "other")
COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("customer_id", "ts", "event_type", "channel", "category", "amount", "quantity"),
    "customers": ("customer_id", "email", "phone", "first_name", "last_name", "country", "zip",
                  "city", "state", "consent_ads"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("customer_id", "ts", "event_type"),
    "customers": ("customer_id",),
}


def fold_column(column: str) -> str:
    """How a file's column name is matched to ours: case, spaces and dashes folded ('Customer ID' → customer_id)."""
    return re.sub(r"[\s\-]+", "_", column.strip().casefold())


def match_columns(kind: str, header: list[str], taken: dict[str, int], constants=()) -> dict[str, int]:
    """Canonical column → position in ``header`` for the columns the file names itself, beside ``taken``
    (mapped by hand) and ``constants``: the same folded name (:func:`fold_column`: 'Customer ID' is
    customer_id), else the same letters without separators ('E-Mail' is email, 'FirstName' is first_name)
    from a column not taken yet. What ingest picks, and what the app's import form starts from."""
    by_folded: dict[str, int] = {}
    by_letters: dict[str, int] = {}
    for index, column in enumerate(header):
        by_folded.setdefault(fold_column(column), index)
        by_letters.setdefault(fold_column(column).replace("_", ""), index)
    found = dict(taken)
    open_columns = [c for c in COLUMNS[kind] if c not in found and c not in constants]
    for canon in open_columns:
        if canon in by_folded:
            found[canon] = by_folded[canon]
    for canon in open_columns:
        index = by_letters.get(canon.replace("_", ""))
        if canon not in found and index is not None and index not in found.values():
            found[canon] = index
    return {canon: index for canon, index in found.items() if canon not in taken}


def parse_assignments(items: list[str] | None, option: str) -> dict[str, str]:
    """``["canonical=value", ...]`` from ``--map`` / ``--set`` → dict; InputError when malformed."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InputError(f"{option} {item!r}: expected CANONICAL=VALUE, e.g. "
                             f"{option} {'customer_id=Kundennummer' if option == '--map' else 'event_type=purchase'}")
        if key in result and result[key] != value:
            raise InputError(f"{option} {key} is given twice ({result[key]!r} and {value!r})")
        result[key] = value
    return result
