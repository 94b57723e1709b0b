"""Fake but well-formed customer records for the demo generator (PII-shaped, not PII).

Every value is invented: e-mail addresses use only the reserved domains
example.com / example.org / example.net (RFC 2606), names come from small
per-language lists that include accents and apostrophes (José, Müller,
O'Brien), and phone numbers are written in the *local* format of the
customer's country from templates whose every fill ``phonenumbers`` accepts
as valid (see :func:`phone_templates`; tests check a sample).

Everything is vectorised: strings are built from byte templates with numpy,
so a million customers take a couple of seconds, not a Python loop each.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

__all__ = ["EMAIL_DOMAINS", "COUNTRY_SHARES", "fake_customers", "phone_templates", "fill_template"]

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# Country mix of the customer base (ISO-3166 alpha-2 -> share).
COUNTRY_SHARES = {"US": 0.34, "GB": 0.14, "DE": 0.12, "FR": 0.10, "ES": 0.08, "CA": 0.11, "AU": 0.11}

# Template placeholders (lower case, so upper-case literals like "H2X" stay):
# x any digit, n digit 2-9, l a letter allowed in a UK inward code, c a letter
# allowed in a Canadian postal code; every other character is literal.
_TEMPLATE_CLASSES = {
    ord("x"): np.frombuffer(b"0123456789", dtype=np.uint8),
    ord("n"): np.frombuffer(b"23456789", dtype=np.uint8),
    ord("l"): np.frombuffer(b"ABDEFGHJLNPQRSTUWXYZ", dtype=np.uint8),
    ord("c"): np.frombuffer(b"ABCEGHJKLMNPRSTVXY", dtype=np.uint8),
}

# (city, state/region, postal-code template, local phone templates)
_CITIES: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "US": [
        ("New York", "NY", "100xx", ("(212) nxx-xxxx", "(917) nxx-xxxx")),
        ("Los Angeles", "CA", "900xx", ("(213) nxx-xxxx",)),
        ("Chicago", "IL", "606xx", ("(312) nxx-xxxx",)),
        ("Houston", "TX", "770xx", ("(713) nxx-xxxx",)),
        ("Seattle", "WA", "981xx", ("(206) nxx-xxxx",)),
        ("Boston", "MA", "021xx", ("(617) nxx-xxxx",)),
        ("Denver", "CO", "802xx", ("(303) nxx-xxxx",)),
        ("Miami", "FL", "331xx", ("(305) nxx-xxxx",)),
        ("San Francisco", "CA", "941xx", ("(415) nxx-xxxx",)),
    ],
    "GB": [
        ("London", "England", "SW1A xll", ("020 7xxx xxxx", "020 8xxx xxxx", "07400 xxxxxx")),
        ("Manchester", "England", "M1 xll", ("0161 2xx xxxx", "07890 xxxxxx")),
        ("Birmingham", "England", "B1 xll", ("0121 4xx xxxx", "07812 xxxxxx")),
        ("Edinburgh", "Scotland", "EH1 xll", ("0131 2xx xxxx", "07723 xxxxxx")),
        ("Cardiff", "Wales", "CF10 xll", ("029 2xxx xxxx",)),
        ("Bristol", "England", "BS1 xll", ("0117 9xx xxxx", "07700 1xxxxx")),
    ],
    "DE": [
        ("Berlin", "BE", "10xxx", ("030 nxxxxxxx", "0151 nxxxxxxx")),
        ("München", "BY", "80xxx", ("089 nxxxxxx", "0171 nxxxxxx")),
        ("Hamburg", "HH", "20xxx", ("040 nxxxxxx", "0160 nxxxxxx")),
        ("Köln", "NW", "50xxx", ("0221 nxxxxxx", "0176 nxxxxxxx")),
        ("Frankfurt am Main", "HE", "60xxx", ("069 nxxxxxx",)),
    ],
    "FR": [
        ("Paris", "Île-de-France", "7501x", ("01 nx xx xx xx", "06 1x xx xx xx")),
        ("Lyon", "Auvergne-Rhône-Alpes", "6900x", ("04 7x xx xx xx", "06 7x xx xx xx")),
        ("Marseille", "Provence-Alpes-Côte d'Azur", "1300x", ("04 9x xx xx xx", "07 6x xx xx xx")),
        ("Toulouse", "Occitanie", "3100x", ("05 6x xx xx xx",)),
        ("Lille", "Hauts-de-France", "5900x", ("03 nx xx xx xx",)),
    ],
    "ES": [
        ("Madrid", "Comunidad de Madrid", "280xx", ("91x xx xx xx", "6nx xxx xxx")),
        ("Barcelona", "Cataluña", "080xx", ("93x xx xx xx", "6nx xxx xxx")),
        ("Sevilla", "Andalucía", "410xx", ("954 xx xx xx",)),
        ("València", "Comunitat Valenciana", "460xx", ("96x xx xx xx",)),
    ],
    "CA": [
        ("Toronto", "ON", "M5V xcx", ("(416) nxx-xxxx",)),
        ("Montréal", "QC", "H2X xcx", ("(514) nxx-xxxx",)),
        ("Vancouver", "BC", "V6B xcx", ("(604) nxx-xxxx",)),
        ("Calgary", "AB", "T2P xcx", ("(403) nxx-xxxx",)),
        ("Ottawa", "ON", "K1P xcx", ("(613) nxx-xxxx",)),
    ],
    "AU": [
        ("Sydney", "NSW", "20xx", ("(02) 9xxx xxxx", "041x xxx xxx")),
        ("Melbourne", "VIC", "30xx", ("(03) 9xxx xxxx", "040x xxx xxx")),
        ("Brisbane", "QLD", "40xx", ("(07) 3xxx xxxx", "043x xxx xxx")),
        ("Perth", "WA", "60xx", ("(08) 9xxx xxxx",)),
    ],
}

_EN_FIRST = ["James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Chloé", "Zoë", "Renée", "Siobhán",
             "Mia", "Ethan", "Grace", "Jack", "Aaliyah", "Mateo", "Priya", "Wei", "Seán", "Harper"]
_EN_LAST = ["Smith", "Johnson", "O'Brien", "O'Connor", "Williams", "Brown", "MacDonald", "Nguyen",
            "D'Angelo", "Taylor", "Wilson", "Patel", "García", "Kim", "Thompson", "Clarke", "Lee"]
_DE_FIRST = ["Jürgen", "Lena", "Jörg", "Sören", "Anna", "Lukas", "Mia", "Björn", "Hannah", "Felix",
             "Käthe", "Ömer", "Leonie", "Maximilian"]
_DE_LAST = ["Müller", "Schröder", "Weiß", "Groß", "Becker", "Fischer", "Koç", "Schäfer", "Wagner",
            "Hoffmann", "Köhler", "Brandt"]
_FR_FIRST = ["François", "Zoé", "Hélène", "Léa", "Jérôme", "Noël", "Chloé", "Lucas", "Anaïs",
             "Gaël", "Inès", "Théo", "Célia"]
_FR_LAST = ["Lefèvre", "Dubois", "D'Artois", "Girard", "Bénard", "Moreau", "Rousseau", "Lemaître",
            "Fontaine", "Chevalier", "L'Hôte"]
_ES_FIRST = ["José", "María", "Íñigo", "Lucía", "Jesús", "Sofía", "Álvaro", "Martín", "Begoña",
             "Raúl", "Inés", "Ángel"]
_ES_LAST = ["Núñez", "Pérez", "Muñoz", "García", "Gómez", "Ibáñez", "Martínez", "Sánchez",
            "Fernández", "Rodríguez", "Domínguez"]

_NAMES_BY_COUNTRY = {
    "US": (_EN_FIRST, _EN_LAST), "GB": (_EN_FIRST, _EN_LAST), "AU": (_EN_FIRST, _EN_LAST),
    "CA": (_EN_FIRST + _FR_FIRST[:6], _EN_LAST + _FR_LAST[:5]),
    "DE": (_DE_FIRST, _DE_LAST), "FR": (_FR_FIRST, _FR_LAST), "ES": (_ES_FIRST, _ES_LAST),
}


def phone_templates() -> dict[str, list[str]]:
    """Local phone templates per country (x digit, n digit 2-9), for validation tests."""
    return {cc: sorted({t for city in cities for t in city[3]}) for cc, cities in _CITIES.items()}


def fill_template(template: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` strings shaped like ``template`` with random characters at x/n/l/c (ASCII only)."""
    raw = np.frombuffer(template.encode("ascii"), dtype=np.uint8)
    out = np.tile(raw, (n, 1))
    for col, code in enumerate(raw):
        choices = _TEMPLATE_CLASSES.get(int(code))
        if choices is not None:
            out[:, col] = choices[rng.integers(0, len(choices), size=n)]
    return np.ascontiguousarray(out).view(f"S{len(raw)}").ravel().astype(str)


def _slug(name: str) -> str:
    """ASCII e-mail-safe form of a name: José -> jose, O'Brien -> obrien."""
    name = name.replace("ß", "ss")  # NFKD has no decomposition for ß
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


def fake_customers(customer_ids: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """One fake customer row per id, with the contract columns of ``customers``.

    Consent to ads is true for ~85 %, false for ~7 %, unknown (NULL) for ~8 %.
    """
    n = len(customer_ids)
    countries = np.array(list(COUNTRY_SHARES))
    shares = np.array(list(COUNTRY_SHARES.values()))
    country_idx = rng.choice(len(countries), size=n, p=shares / shares.sum())

    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    first_slug = np.empty(n, dtype=object)
    last_slug = np.empty(n, dtype=object)
    city = np.empty(n, dtype=object)
    state = np.empty(n, dtype=object)
    zip_code = np.empty(n, dtype=object)
    phone = np.empty(n, dtype=object)
    # Loops run over countries, cities and templates (dozens), never over customers.
    for ci, cc in enumerate(countries):
        members = np.flatnonzero(country_idx == ci)
        if members.size == 0:
            continue
        firsts, lasts = _NAMES_BY_COUNTRY[cc]
        fi = rng.integers(0, len(firsts), size=members.size)
        li = rng.integers(0, len(lasts), size=members.size)
        first[members] = np.array(firsts, dtype=object)[fi]
        last[members] = np.array(lasts, dtype=object)[li]
        first_slug[members] = np.array([_slug(x) for x in firsts], dtype=object)[fi]
        last_slug[members] = np.array([_slug(x) for x in lasts], dtype=object)[li]
        cities = _CITIES[cc]
        # Bigger cities first in each list get more customers.
        weights = 1.0 / np.arange(1, len(cities) + 1)
        city_idx = rng.choice(len(cities), size=members.size, p=weights / weights.sum())
        for k, (name, region, zip_template, phones) in enumerate(cities):
            at = members[city_idx == k]
            if at.size == 0:
                continue
            city[at] = name
            state[at] = region
            zip_code[at] = fill_template(zip_template, at.size, rng)
            which = rng.integers(0, len(phones), size=at.size)
            for t, template in enumerate(phones):
                sub = at[which == t]
                if sub.size:
                    phone[sub] = fill_template(template, sub.size, rng)

    # E-mail local parts: first.last, f.last or firstlast, plus the customer number
    # so addresses are unique; only reserved example domains.
    number = pd.Series(customer_ids).str.slice(1).str.lstrip("0").to_numpy(dtype=object)
    style = rng.integers(0, 3, size=n)
    fs = pd.Series(first_slug, dtype="string")
    ls = pd.Series(last_slug, dtype="string")
    local = np.where(
        style == 0, (fs + "." + ls).to_numpy(dtype=object),
        np.where(style == 1, (fs.str.slice(0, 1) + "." + ls).to_numpy(dtype=object),
                 (fs + ls).to_numpy(dtype=object)),
    )
    domain = np.array(EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(EMAIL_DOMAINS), size=n)]
    email = (pd.Series(local, dtype="string") + pd.Series(number, dtype="string") + "@"
             + pd.Series(domain, dtype="string"))

    consent_draw = rng.random(n)
    consent = pd.array(consent_draw < 0.85, dtype="boolean")
    consent[consent_draw >= 0.92] = pd.NA  # 85 % true, 7 % false, 8 % unknown

    return pd.DataFrame({
        "customer_id": pd.Series(customer_ids, dtype="string"),
        "email": email,
        "phone": pd.Series(phone, dtype="string"),
        "first_name": pd.Series(first, dtype="string"),
        "last_name": pd.Series(last, dtype="string"),
        "country": pd.Series(countries[country_idx], dtype="string"),
        "zip": pd.Series(zip_code, dtype="string"),
        "city": pd.Series(city, dtype="string"),
        "state": pd.Series(state, dtype="string"),
        "consent_ads": consent,
    })
