"""Identifier normalisation and hashing for audience files: each platform's rules for e-mail
addresses (trimmed, lower case; TikTok also drops ``+tag``), phone numbers (E.164 via
``phonenumbers``, or its digits), countries (ISO-3166 alpha-2), names (lower case, or letters only
for Meta), postal codes, birth years and genders, and the unsalted SHA-256 hex the ad platforms
match on. Everything here is pure (values in, values out), so the rules can be tested with known
vectors and property-based tests; a value that is missing or invalid becomes ``None`` (an empty
cell) instead of raising. :mod:`segmentation.audiences.formats` applies these rules per platform."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from typing import Any

import pandas as pd
import phonenumbers

__all__ = [
    "clean_text",
    "sha256_hex",
    "hash_or_none",
    "normalise_email",
    "normalise_email_tiktok",
    "normalise_phone",
    "phone_digits",
    "normalise_country",
    "normalise_name",
    "letters_only",
    "normalise_zip",
    "meta_zip",
    "normalise_birth_year",
    "normalise_gender",
]

_EMAIL = re.compile(r"^[^\s@]+@[^\s@.][^\s@]*\.[^\s@.]{2,}$")
_ZIP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,11}$")
_ISO2 = frozenset(phonenumbers.SUPPORTED_REGIONS)


def clean_text(value: Any) -> str | None:
    """``value`` as NFC text with outer whitespace removed, or None when missing/empty."""
    if value is None or not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", value).strip()
    return text or None


def sha256_hex(value: str) -> str:
    """Lower-case hex SHA-256 of the UTF-8 bytes of ``value`` (no salt)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_or_none(value: str | None) -> str | None:
    """:func:`sha256_hex` of ``value``, or None when there is nothing to hash."""
    return sha256_hex(value) if value else None


def normalise_email(value: Any) -> str | None:
    """Trimmed, lower-cased e-mail address, or None when it is not shaped like one."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.lower()
    return text if _EMAIL.match(text) else None


def normalise_email_tiktok(value: Any) -> str | None:
    """E-mail by TikTok's customer-file rules: lower case, ``+tag`` before ``@`` removed,
    starting with a letter or digit."""
    email = normalise_email(value)
    if email is None:
        return None
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if not local or not local[0].isalnum():
        return None
    return f"{local}@{domain}"


def normalise_country(value: Any) -> str | None:
    """ISO-3166 alpha-2 code in upper case (``" de "`` -> ``"DE"``), or None."""
    text = clean_text(value)
    if text is None:
        return None
    text = text.upper()
    return text if text in _ISO2 else None


def normalise_phone(phone: Any, country: Any = None) -> str | None:
    """E.164 form (``+4930123456``) of ``phone``, read in ``country``'s local format.

    A number written with ``+`` and a country code needs no country. Numbers that
    ``phonenumbers`` does not consider valid give None.
    """
    text = clean_text(phone)
    if text is None:
        return None
    region = normalise_country(country)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(e164: str | None) -> str | None:
    """Country code and number as digits only (``+4930123456`` -> ``4930123456``)."""
    return e164[1:] if e164 else None


def normalise_name(value: Any) -> str | None:
    """Name trimmed and lower-cased, inner runs of spaces collapsed (Google's rule);
    accents and apostrophes are kept (``"  O'Brien "`` -> ``"o'brien"``)."""
    text = clean_text(value)
    return " ".join(text.lower().split()) if text else None


def letters_only(value: Any) -> str | None:
    """Lower case with only letters kept, accents included (Meta's rule for names,
    city and region): ``"O'Brien"`` -> ``"obrien"``, ``"Île-de-France"`` -> ``"îledefrance"``."""
    text = clean_text(value)
    if text is None:
        return None
    kept = "".join(ch for ch in text.lower() if unicodedata.category(ch).startswith("L"))
    return kept or None


def normalise_zip(value: Any) -> str | None:
    """Postal code in plain text: trimmed, upper case, single spaces (``"sw1a  1aa"`` ->
    ``"SW1A 1AA"``), or None when it holds anything but letters, digits, spaces and '-'."""
    text = clean_text(value)
    if text is None:
        return None
    text = " ".join(text.upper().split())
    return text if _ZIP.match(text) else None


def meta_zip(value: Any, country: Any = None) -> str | None:
    """Zip by Meta's rule: lower case, no spaces, the part before '-'; US: first 5 digits."""
    text = normalise_zip(value)
    if text is None:
        return None
    text = text.lower().replace(" ", "").split("-", 1)[0]
    if normalise_country(country) == "US":
        text = text[:5]
    return text or None


def normalise_birth_year(value: Any) -> str | None:
    """Birth year as ``YYYY`` (1900 to this year) from a year, date or ISO date text."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "year"):
        year = int(value.year)
    else:
        match = re.match(r"^\s*(\d{4})", str(value))
        if not match:
            return None
        year = int(match.group(1))
    return str(year) if 1900 <= year <= date.today().year else None


_GENDERS = {"f": "f", "female": "f", "w": "f", "woman": "f", "m": "m", "male": "m", "man": "m"}


def normalise_gender(value: Any) -> str | None:
    """``f`` or ``m`` (Meta's only two values), or None."""
    text = clean_text(value)
    return _GENDERS.get(text.lower()) if text else None
