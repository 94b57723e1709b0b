"""Audience file formats: one layout per platform, and the rows of a file formatted for it.

Here: each platform's minimum audience size, its file layout (:class:`PlatformSpec`,
:data:`PLATFORMS`), spreadsheet-formula neutralisation of plain cells and
:func:`format_rows`, which normalises and hashes each customer's identifiers with the
rules of :mod:`segmentation.audiences.normalise`. Pure (no database, no files). Each
platform's rules follow its published documentation (see ``PlatformSpec.doc_url``):

* Google Customer Match: e-mail trimmed + lower-cased, phone in E.164 (``+`` and
  country code), first/last name trimmed + lower-cased; those four SHA-256 hex.
  Country (ISO-3166 alpha-2) and zip in plain text.
* Meta custom audiences: every column SHA-256 hex after Meta's normalisation
  (lower case; phone as digits with the country code and no ``+``; names and
  city without punctuation or spaces; zip without spaces, first part only;
  country as two lower-case letters).
* TikTok customer file: ``Email_SHA256`` (lower case, ``+tag`` removed, must
  start with a letter or digit) and ``Phone_SHA256`` (digits with country code,
  no ``+``, no leading zeros).
* LinkedIn contact list: the Campaign Manager template columns; e-mail SHA-256,
  names in plain text only when asked (LinkedIn takes no hashed names).
* crm: plain customer ids and segment membership.

Invalid values become ``None`` (the cell stays empty) instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from segmentation.audiences.normalise import (clean_text, hash_or_none, letters_only, meta_zip, normalise_birth_year,
                                              normalise_country, normalise_email, normalise_email_tiktok,
                                              normalise_gender, normalise_name, normalise_phone, normalise_zip,
                                              phone_digits)

__all__ = [
    "MIN_AUDIENCE_SIZE",
    "PlatformSpec",
    "PLATFORMS",
    "FORMULA_PREFIXES",
    "neutralise_formula",
    "format_rows",
]

# The platforms' minimum audience sizes, in one place (rows in the file; each platform
# then needs enough *matched* users too). plan_export(min_size=...) overrides per call.
MIN_AUDIENCE_SIZE: dict[str, int] = {
    "google": 100,
    "meta": 100,
    "linkedin": 300,
    "tiktok": 1000,
    "crm": 1,
}

# Cells a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> str | None:
    """Text for a plain cell: NFC, trimmed, inner whitespace runs (tabs, line breaks) as one space."""
    text = clean_text(value)
    return " ".join(text.split()) if text else None


def neutralise_formula(value: Any) -> Any:
    """Prefix ``'`` to text a spreadsheet would run as a formula (starts with = + - @ tab CR).

    Anything else, including non-text values, is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# --------------------------------------------------------------------------- platforms

@dataclass(frozen=True)
class PlatformSpec:
    """What one platform's audience file looks like.

    ``headers``: the columns always written, in order; ``optional_headers``: added
    when the customers table holds the data (Meta's ``doby``, ``gen``).
    ``hashed_columns``: the SHA-256 hashed identifiers (every other column is plain
    text, neutralised against spreadsheet formulas); none for plain data (crm).
    ``identifier_groups``: a row is usable when every column of one group is filled.
    """

    name: str
    label: str
    headers: tuple[str, ...]
    identifier_groups: tuple[tuple[str, ...], ...]
    doc_url: str
    upload_hint: str
    optional_headers: tuple[str, ...] = field(default=())
    hashed_columns: tuple[str, ...] = field(default=())
    suffix: str = ".csv"

    @property
    def hashed(self) -> bool:
        """Identifiers are SHA-256 hashes (an ad platform), not plain data."""
        return bool(self.hashed_columns)

    @property
    def min_size(self) -> int:
        """The platform's minimum audience size in rows (:data:`MIN_AUDIENCE_SIZE`)."""
        return MIN_AUDIENCE_SIZE[self.name]


PLATFORMS: dict[str, PlatformSpec] = {
    "google": PlatformSpec(
        name="google", label="Google Ads Customer Match",
        headers=("Email", "Phone", "First Name", "Last Name", "Country", "Zip"),
        hashed_columns=("Email", "Phone", "First Name", "Last Name"),
        identifier_groups=(("Email",), ("Phone",), ("First Name", "Last Name", "Country", "Zip")),
        doc_url="https://support.google.com/google-ads/answer/7659867",
        upload_hint="Google Ads > Tools > Shared library > Audience manager > + > Customer list; "
                    "choose 'Upload Emails, Phones, and/or Mailing Addresses' (hashed).",
    ),
    "meta": PlatformSpec(
        name="meta", label="Meta Custom Audience (customer list)",
        headers=("email", "phone", "fn", "ln", "ct", "st", "zip", "country"),
        optional_headers=("doby", "gen"),
        hashed_columns=("email", "phone", "fn", "ln", "ct", "st", "zip", "country", "doby", "gen"),
        identifier_groups=(("email",), ("phone",), ("fn", "ln", "zip", "country")),
        doc_url="https://www.facebook.com/business/help/2082575038703844",
        upload_hint="Ads Manager > Audiences > Create audience > Custom audience > Customer list; "
                    "upload the file, confirm the column mapping (already hashed).",
    ),
    "tiktok": PlatformSpec(
        name="tiktok", label="TikTok Custom Audience (customer file)",
        headers=("Email_SHA256", "Phone_SHA256"),
        hashed_columns=("Email_SHA256", "Phone_SHA256"),
        identifier_groups=(("Email_SHA256",), ("Phone_SHA256",)),
        doc_url="https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file",
        upload_hint="TikTok Ads Manager > Tools > Audiences > Create audience > Custom audience > "
                    "Customer file; choose the multiple-ID file and upload.",
    ),
    "linkedin": PlatformSpec(
        name="linkedin", label="LinkedIn Matched Audience (contact list)",
        headers=("email", "firstname", "lastname", "jobtitle", "employeecompany", "country", "googleaid"),
        hashed_columns=("email",),
        identifier_groups=(("email",), ("firstname", "lastname")),
        doc_url="https://www.linkedin.com/help/lms/answer/a1489764",
        upload_hint="Campaign Manager > Plan > Audiences > Create audience > Upload a list > "
                    "Contact list; upload the CSV (the header row is LinkedIn's template).",
    ),
    "crm": PlatformSpec(
        name="crm", label="CRM file (plain customer ids)",
        headers=("customer_id", "segment_id", "segment_name", "lineage_id",
                 "membership_probability", "run_id", "run_date"),
        optional_headers=("email", "phone", "first_name", "last_name", "country", "zip", "city", "state"),
        identifier_groups=(("customer_id",),),
        doc_url="",
        upload_hint="Import into your CRM or e-mail tool and match on customer_id.",
    ),
}

CONTACT_COLUMNS = ("email", "phone", "first_name", "last_name", "country", "zip", "city", "state")


def _map(series: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    return pd.Series([func(v) for v in series.astype(object)], index=series.index, dtype=object)


def _map2(a: pd.Series, b: pd.Series, func: Callable[[Any, Any], Any]) -> pd.Series:
    return pd.Series([func(x, y) for x, y in zip(a.astype(object), b.astype(object))],
                     index=a.index, dtype=object)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(object).where(frame[name].notna(), None)
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _google(frame: pd.DataFrame) -> pd.DataFrame:
    country = _map(_column(frame, "country"), normalise_country)
    out = pd.DataFrame({
        "Email": _map(_map(_column(frame, "email"), normalise_email), hash_or_none),
        "Phone": _map(_map2(_column(frame, "phone"), _column(frame, "country"), normalise_phone),
                      hash_or_none),
        "First Name": _map(_map(_column(frame, "first_name"), normalise_name), hash_or_none),
        "Last Name": _map(_map(_column(frame, "last_name"), normalise_name), hash_or_none),
        "Country": country,
        "Zip": _map(_column(frame, "zip"), normalise_zip),
    }, index=frame.index)
    # Google matches a mailing address only as all four parts together: partial ones are left out.
    address = ["First Name", "Last Name", "Country", "Zip"]
    incomplete = out[address].isna().any(axis=1)
    out.loc[incomplete, address] = None
    return out


def _meta(frame: pd.DataFrame) -> pd.DataFrame:
    raw_country = _column(frame, "country")
    columns = {
        "email": _map(_column(frame, "email"), normalise_email),
        "phone": _map(_map2(_column(frame, "phone"), raw_country, normalise_phone), phone_digits),
        "fn": _map(_column(frame, "first_name"), letters_only),
        "ln": _map(_column(frame, "last_name"), letters_only),
        "ct": _map(_column(frame, "city"), letters_only),
        "st": _map(_column(frame, "state"), letters_only),
        "zip": _map2(_column(frame, "zip"), raw_country, meta_zip),
        "country": _map(_map(raw_country, normalise_country),
                        lambda c: c.lower() if c else None),
    }
    birth = next((c for c in ("birth_year", "date_of_birth", "dob") if c in frame.columns), None)
    if birth:
        columns["doby"] = _map(_column(frame, birth), normalise_birth_year)
    if "gender" in frame.columns:
        columns["gen"] = _map(_column(frame, "gender"), normalise_gender)
    return pd.DataFrame({k: _map(v, hash_or_none) for k, v in columns.items()}, index=frame.index)


def _tiktok(frame: pd.DataFrame) -> pd.DataFrame:
    phone = _map2(_column(frame, "phone"), _column(frame, "country"), normalise_phone)
    return pd.DataFrame({
        "Email_SHA256": _map(_map(_column(frame, "email"), normalise_email_tiktok), hash_or_none),
        "Phone_SHA256": _map(_map(phone, phone_digits), hash_or_none),
    }, index=frame.index)


def _linkedin(frame: pd.DataFrame, include_pii: bool) -> pd.DataFrame:
    empty = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    names = {
        "firstname": _map(_column(frame, "first_name"), _plain),
        "lastname": _map(_column(frame, "last_name"), _plain),
    } if include_pii else {"firstname": empty, "lastname": empty}
    return pd.DataFrame({
        "email": _map(_map(_column(frame, "email"), normalise_email), hash_or_none),
        **names,
        "jobtitle": empty, "employeecompany": empty,
        "country": _map(_column(frame, "country"), normalise_country),
        "googleaid": empty,
    }, index=frame.index)


def _crm(frame: pd.DataFrame, include_pii: bool) -> pd.DataFrame:
    out = pd.DataFrame({
        "customer_id": _column(frame, "customer_id"),
        "segment_id": frame["segment_id"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        "segment_name": _column(frame, "segment_name"),
        "lineage_id": frame["lineage_id"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        "membership_probability": frame["probability"].map(
            lambda p: "" if pd.isna(p) else f"{float(p):.4f}"),
        "run_id": frame["run_id"].astype("int64").astype(str),
        "run_date": frame["run_date"].map(lambda d: d.isoformat() if hasattr(d, "isoformat") else str(d)),
    }, index=frame.index)
    if include_pii:
        for name in CONTACT_COLUMNS:
            out[name] = _map(_column(frame, name), _plain)
    return out


def format_rows(platform: str, frame: pd.DataFrame, *, include_pii: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """The audience file rows for ``frame`` (customers' contact columns, plus segment
    columns for crm) and a boolean Series: does the row hold a usable identifier?

    Plain text cells are neutralised against spreadsheet formulas; hashes are hex and
    never need it.
    """
    spec = PLATFORMS[platform]
    if platform == "google":
        rows = _google(frame)
    elif platform == "meta":
        rows = _meta(frame)
    elif platform == "tiktok":
        rows = _tiktok(frame)
    elif platform == "linkedin":
        rows = _linkedin(frame, include_pii)
    else:
        rows = _crm(frame, include_pii)
    for name in rows.columns:
        if name not in spec.hashed_columns:
            rows[name] = _map(rows[name], neutralise_formula)
    rows = rows.astype(object).where(rows.notna(), None)  # missing cells are None, whatever pandas inferred
    usable = pd.Series(False, index=frame.index)
    for group in spec.identifier_groups:
        usable |= rows[list(group)].notna().all(axis=1)
    return rows.reset_index(drop=True), usable.reset_index(drop=True)

