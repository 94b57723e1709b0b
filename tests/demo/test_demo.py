"""Demo generator: determinism, planted personas and their dynamics, fake PII, storage."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from segmentation.demo.events import EMERGE_MONTH
from segmentation.demo.generate import create_demo, generate
from segmentation.demo.personas import CATEGORIES, CHANNELS, EMERGING, EVENT_TYPES, FADING, PERSONAS
from segmentation.demo.write import write_demo
from segmentation.demo.customers import EMAIL_DOMAINS, fill_template, phone_templates
from segmentation.errors import InputError, WorkbenchError
from segmentation.data.store import connect

N = 3000


@pytest.fixture(scope="session")
def data():
    return generate(customers=N, months=12, seed=7)


@pytest.fixture(scope="session")
def shares(data) -> pd.DataFrame:
    """Persona share of active customers, one row per month (in calendar order)."""
    truth = data.truth.assign(persona=data.truth["persona"].astype(str))
    table = pd.crosstab(truth["month"], truth["persona"], normalize="index")
    return table.reindex(columns=list(PERSONAS), fill_value=0.0).sort_index()


@pytest.fixture(scope="session")
def persona_matrix(data) -> pd.DataFrame:
    """Persona per customer (rows) and month (columns); NaN when not active."""
    truth = data.truth.assign(customer_id=data.truth["customer_id"].astype(str),
                              persona=data.truth["persona"].astype(str))
    return truth.pivot(index="customer_id", columns="month", values="persona").sort_index(axis=1)


def _frame_hash(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame, index=False).sum())


# --- determinism and calendar -------------------------------------------------------------

def test_same_seed_gives_identical_data_and_another_seed_does_not():
    a = generate(customers=400, months=4, seed=11)
    b = generate(customers=400, months=4, seed=11)
    c = generate(customers=400, months=4, seed=12)
    assert _frame_hash(a.events) == _frame_hash(b.events)
    assert _frame_hash(a.customers) == _frame_hash(b.customers)
    assert _frame_hash(a.truth) == _frame_hash(b.truth)
    assert _frame_hash(a.events) != _frame_hash(c.events)
    assert _frame_hash(a.customers) != _frame_hash(c.customers)


def test_timestamps_fall_inside_the_fixed_calendar(data):
    ts = data.events["ts"]
    assert ts.min() >= pd.Timestamp("2025-01-01")
    assert ts.max() < pd.Timestamp("2026-01-01")
    # every month is covered, and the truth months are first days of months
    assert ts.dt.month.nunique() == 12
    months = pd.DatetimeIndex(data.truth["month"].unique())
    assert sorted(months) == list(pd.date_range("2025-01-01", periods=12, freq="MS"))
    other = generate(customers=200, months=2, seed=1, start=date(2024, 11, 1))
    assert other.events["ts"].min() >= pd.Timestamp("2024-11-01")
    assert other.events["ts"].max() < pd.Timestamp("2025-01-01")


def test_events_follow_the_truth_months(data):
    ev = pd.DataFrame({"customer_id": data.events["customer_id"].astype(str),
                       "month": data.events["ts"].dt.to_period("M").dt.start_time})
    active = ev.drop_duplicates()
    truth = data.truth.assign(customer_id=data.truth["customer_id"].astype(str))[["customer_id", "month"]]
    merged = active.merge(truth.assign(in_truth=True), on=["customer_id", "month"], how="outer")
    # no events outside a customer's active months, and every active month has events
    assert merged["in_truth"].notna().all()
    assert len(active) == len(truth)
    assert set(data.customers["customer_id"]) == set(truth["customer_id"])


def test_seasonal_peak_in_november_and_december(data):
    per_month = data.events.groupby(data.events["ts"].dt.month).size()
    active = data.truth.groupby(data.truth["month"].dt.month).size()
    per_customer = per_month / active
    assert per_customer.loc[[11, 12]].mean() > 1.25 * per_customer.loc[[1, 2, 3]].mean()


def test_bad_parameters_are_refused():
    with pytest.raises(InputError, match="--customers"):
        generate(customers=0)
    with pytest.raises(InputError, match="--months"):
        generate(customers=10, months=0)
    with pytest.raises(InputError, match="first day"):
        generate(customers=10, months=1, start=date(2025, 1, 15))


# --- contract columns and values ----------------------------------------------------------

def test_events_use_the_contract_columns_and_vocabularies(data):
    ev = data.events
    assert list(ev.columns) == ["customer_id", "ts", "event_type", "channel", "category",
                                "amount", "quantity"]
    assert set(ev["event_type"].astype(str)) == set(EVENT_TYPES)
    assert set(ev["channel"].astype(str)) == set(CHANNELS)
    assert set(ev["category"].dropna().astype(str)) == set(CATEGORIES)
    et = ev["event_type"].astype(str)
    assert (ev.loc[et.isin(["email_open", "email_click"]), "channel"] == "email").all()
    assert (ev.loc[et == "store_visit", "channel"] == "store").all()
    assert ev.loc[et == "app_open", "category"].isna().all()


def test_amounts_only_on_purchases_and_refunds(data):
    ev = data.events
    money = ev["event_type"].astype(str).isin(["purchase", "refund"])
    assert (ev.loc[money, "amount"] > 0).all()
    assert (ev.loc[~money, "amount"] == 0).all()
    purchases = ev[ev["event_type"] == "purchase"]
    assert (purchases["quantity"] >= 1).all()
    assert (purchases["quantity"] == purchases["quantity"].round()).all()
    # log-normal baskets: right-skewed
    assert purchases["amount"].mean() > 1.2 * purchases["amount"].median()


def test_counts_are_over_dispersed(data):
    ev = data.events
    month = ev["ts"].dt.to_period("M")
    counts = ev.groupby([ev["customer_id"].astype(str), month]).size()
    # negative binomial: the variance is well above the mean (Poisson would be about equal)
    assert counts.var() > 2 * counts.mean()


# --- personas -----------------------------------------------------------------------------

def test_at_least_seven_personas_of_unequal_size(shares):
    assert len(PERSONAS) >= 7
    first, last = shares.iloc[0], shares.iloc[-1]
    present_first = first[first > 0]
    assert len(present_first) >= 7
    assert present_first.max() > 4 * present_first.min()
    assert (last < 0.05).sum() >= 1 and (last > 0).all()
    assert first["serial_returners"] < 0.05 and last["serial_returners"] < 0.05


def test_emerging_persona_is_absent_then_reaches_five_percent(shares, persona_matrix):
    assert (shares[EMERGING].iloc[:EMERGE_MONTH] == 0).all()
    assert shares[EMERGING].iloc[EMERGE_MONTH] > 0
    assert shares[EMERGING].iloc[-1] >= 0.05
    # fed by brand-new customers and by migrants from other personas
    first_persona = persona_matrix.bfill(axis=1).iloc[:, 0]
    ever_emerging = (persona_matrix == EMERGING).any(axis=1)
    assert (ever_emerging & (first_persona == EMERGING)).sum() > 50
    assert (ever_emerging & (first_persona != EMERGING)).sum() >= 5


def test_fading_persona_shrinks_to_three_percent(shares):
    fading = shares[FADING]
    assert 0.08 <= fading.iloc[0] <= 0.14
    assert fading.iloc[-1] <= 0.03
    assert (np.diff(fading.to_numpy()) < 0.005).all()  # it only goes down (up to noise)


def test_migrations_exist_but_are_modest(persona_matrix):
    values = persona_matrix.to_numpy()
    moved = 0
    both_active = 0
    for m in range(1, values.shape[1]):
        ok = pd.notna(values[:, m - 1]) & pd.notna(values[:, m])
        both_active += ok.sum()
        moved += (values[ok, m - 1] != values[ok, m]).sum()
    rate = moved / both_active
    assert 0.004 <= rate <= 0.015, rate
    multi = persona_matrix.apply(lambda row: row.dropna().nunique(), axis=1)
    assert (multi > 1).sum() > 0
    assert (multi > 1).mean() < 0.15


def test_churners_stop_and_newcomers_start(persona_matrix):
    active = persona_matrix.notna().to_numpy()
    last_active = active.shape[1] - 1 - np.argmax(active[:, ::-1], axis=1)
    first_active = np.argmax(active, axis=1)
    churned = last_active < active.shape[1] - 1
    assert 0.05 <= churned.mean() <= 0.40
    assert 0.2 <= (first_active > 0).mean() <= 0.5
    # once gone, gone: active months are contiguous
    assert (active.sum(axis=1) == last_active - first_active + 1).all()


def _last_90_days(data) -> pd.DataFrame:
    ev = data.events[data.events["ts"] >= pd.Timestamp("2026-01-01") - pd.Timedelta(days=90)]
    key = ev["customer_id"].astype(str)
    parts = [pd.crosstab(key, ev[col].astype(str), normalize="index").add_prefix(col + ":")
             for col in ("event_type", "channel", "category")]
    parts.append(pd.crosstab(key, ev["ts"].dt.hour // 3, normalize="index").add_prefix("h"))
    parts.append((ev["ts"].dt.day_of_week >= 5).groupby(key).mean().rename("weekend"))
    parts.append(np.log1p(key.value_counts()).rename("log_events"))
    spend = ev["amount"].where(ev["event_type"] == "purchase", 0.0).groupby(key).sum()
    parts.append(np.log1p(spend / key.value_counts()).rename("log_spend_per_event"))
    return pd.concat(parts, axis=1).fillna(0.0)


def test_personas_are_separable_on_last_90_days_features(data):
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    features = _last_90_days(data)
    truth = data.truth[data.truth["month"] == data.truth["month"].max()]
    labels = truth.set_index(truth["customer_id"].astype(str))["persona"].astype(str)
    features = features.loc[features.index.intersection(labels.index)]
    x = StandardScaler().fit_transform(features.to_numpy())
    accuracy = cross_val_score(KNeighborsClassifier(10), x, labels.loc[features.index], cv=3).mean()
    assert accuracy >= 0.95, accuracy
    assert (features["log_events"] >= np.log1p(10)).mean() > 0.85  # enough events per customer


def test_personas_behave_as_documented(data):
    ev = data.events
    # the persona of each event: the customer's persona in that month
    truth = data.truth.assign(customer_id=data.truth["customer_id"].astype(str),
                              persona=data.truth["persona"].astype(str))
    ev = ev.assign(customer_id=ev["customer_id"].astype(str), month=ev["ts"].dt.to_period("M")
                   .dt.start_time).merge(truth, on=["customer_id", "month"])
    by = ev.groupby("persona")
    channel = pd.crosstab(ev["persona"], ev["channel"].astype(str), normalize="index")
    category = pd.crosstab(ev["persona"], ev["category"].astype(str), normalize="index")
    etype = pd.crosstab(ev["persona"], ev["event_type"].astype(str), normalize="index")
    weekend = by["ts"].apply(lambda t: (t.dt.day_of_week >= 5).mean())
    night = by["ts"].apply(lambda t: ((t.dt.hour >= 22) | (t.dt.hour < 4)).mean())
    basket = ev[ev["event_type"] == "purchase"].groupby("persona")["amount"].median()
    refunds = etype["refund"] / etype["purchase"]

    assert channel.loc["social_live_shoppers", ["social", "ads"]].sum() > 0.7
    assert category.loc["night_owl_app_gamers", "gaming"] > 0.5
    assert night.idxmax() in {"night_owl_app_gamers", "social_live_shoppers"}
    assert night["night_owl_app_gamers"] > 0.5
    assert basket.idxmax() == "premium_store_shoppers" and basket.max() > 3 * basket.median()
    assert weekend.idxmax() == "premium_store_shoppers" and weekend.max() > 0.5
    assert refunds.idxmax() == "serial_returners" and refunds.max() > 0.5
    assert category.loc["serial_returners", "fashion"] > 0.6
    assert etype.loc["email_deal_hunters", ["email_open", "email_click"]].sum() > 0.45
    assert etype.loc["bargain_web_browsers", "purchase"] < 0.1
    assert (etype.loc["bargain_web_browsers", "cart"]
            > 2 * etype.loc["bargain_web_browsers", "purchase"])  # carts left behind
    assert channel.loc["loyal_app_shoppers", "app"] > 0.8
    assert category.loc[FADING, "books"] > 0.45 and weekend[FADING] < 0.1


def test_stationary_variant_keeps_a_constant_mix():
    data = generate(customers=N, months=6, seed=3, stationary=True)
    truth = data.truth.assign(persona=data.truth["persona"].astype(str))
    table = pd.crosstab(truth["month"], truth["persona"], normalize="index")
    assert (table.max() - table.min()).max() <= 0.02
    per_customer = truth.groupby(truth["customer_id"].astype(str))["persona"]
    assert (per_customer.nunique() == 1).all()      # no migration
    assert (per_customer.size() == 6).all()          # no churn, nobody joins later
    assert len(table.columns) == len(PERSONAS)


# --- customers (fake PII) -----------------------------------------------------------------

def test_customer_ids_and_emails_are_well_formed(data):
    cust = data.customers
    assert list(cust.columns) == ["customer_id", "email", "phone", "first_name", "last_name",
                                  "country", "zip", "city", "state", "consent_ads"]
    assert cust["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert cust["customer_id"].is_unique
    email = re.compile(r"[a-z0-9.]+@(%s)" % "|".join(re.escape(d) for d in EMAIL_DOMAINS))
    assert cust["email"].map(lambda e: bool(email.fullmatch(e))).all()
    assert cust["email"].is_unique
    assert set(cust["email"].str.split("@").str[1]) == set(EMAIL_DOMAINS)


def test_names_have_accents_and_apostrophes(data):
    names = pd.concat([data.customers["first_name"], data.customers["last_name"]])
    assert names.str.contains("'").any()
    assert names.map(lambda s: not s.isascii()).mean() > 0.05
    for wanted in ("José", "Müller", "O'Brien"):
        assert wanted in set(names)


def test_countries_zips_and_consent(data):
    cust = data.customers
    assert cust["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert {"US", "GB", "DE", "FR", "ES", "CA", "AU"} <= set(cust["country"])
    assert cust[["zip", "city", "state"]].notna().all().all()
    us = cust[cust["country"] == "US"]
    assert us["zip"].str.fullmatch(r"\d{5}").all()
    ca = cust[cust["country"] == "CA"]
    assert ca["zip"].str.fullmatch(r"[A-Z]\d[A-Z] \d[A-Z]\d").all()
    gb = cust[cust["country"] == "GB"]
    assert gb["zip"].str.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}").all()
    assert set(cust.loc[cust["city"] == "Houston", "state"]) <= {"TX"}
    consent = cust["consent_ads"]
    n = len(consent)
    assert 0.80 <= int((consent == True).sum()) / n <= 0.90  # noqa: E712 (NA excluded)
    assert 0.04 <= int((consent == False).sum()) / n <= 0.10  # noqa: E712
    assert 0.05 <= consent.isna().mean() <= 0.11


def test_phone_numbers_parse_and_validate_in_their_country(data):
    sample = data.customers.sample(300, random_state=0)
    formats = set()
    for phone, country in zip(sample["phone"], sample["country"]):
        number = phonenumbers.parse(phone, country)
        assert phonenumbers.is_valid_number(number), (country, "invalid")
        assert not phone.startswith("+")  # local format, not E.164
        formats.add(country)
    assert len(formats) >= 6


def test_every_phone_template_yields_valid_numbers():
    rng = np.random.default_rng(0)
    for country, templates in phone_templates().items():
        for template in templates:
            for phone in fill_template(template, 40, rng):
                assert phonenumbers.is_valid_number(phonenumbers.parse(phone, country)), template


# --- storage ------------------------------------------------------------------------------

def _counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("events", "customers", "demo_truth", "ingests")}


def test_write_demo_round_trip_refusal_and_replace(db_file):
    small = generate(customers=300, months=4, seed=5)
    messages: list[str] = []
    with connect(db_file) as con:
        summary = write_demo(con, small)
        assert _counts(con) == {"events": len(small.events), "customers": 300,
                                "demo_truth": len(small.truth), "ingests": 1}
        assert summary["events"] == len(small.events) and summary["customers"] == 300
        assert summary["start"] == "2025-01-01" and summary["end"] == "2025-04-30"
        assert sum(summary["persona_counts_last_month"].values()) == (
            small.truth["month"] == small.truth["month"].max()).sum()
        kind, file, fingerprint, n_rows = con.execute(
            "SELECT kind, file, fingerprint, n_rows FROM ingests").fetchall()[0]
        assert (kind, file, n_rows) == ("demo", "demo:seed=5,customers=300,months=4", len(small.events))
        assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
        first, last, not_first_day = con.execute(
            "SELECT min(month), max(month), count(*) FILTER (WHERE day(month) <> 1) FROM demo_truth"
        ).fetchall()[0]
        assert (str(first), str(last), not_first_day) == ("2025-01-01", "2025-04-01", 0)
        assert con.execute("SELECT count(*) FROM customers WHERE consent_ads IS NULL").fetchall()[0][0] \
            == int(small.customers["consent_ads"].isna().sum())
        assert con.execute("SELECT count(*) FROM events WHERE ingest_id IS NOT NULL").fetchall()[0][0] == 0

        before = _counts(con)
        with pytest.raises(WorkbenchError, match="--replace"):
            create_demo(con, customers=200, months=3, seed=9)
        with pytest.raises(WorkbenchError, match="already holds"):
            write_demo(con, generate(customers=100, months=2, seed=9))
        assert _counts(con) == before

        summary = create_demo(con, customers=200, months=3, seed=9, replace=True,
                              progress=messages.append)
        after = _counts(con)
        assert after["customers"] == 200 and after["events"] == summary["events"]
        assert after["ingests"] == 2
        assert summary["replaced"]["events"] == before["events"]
        assert len(messages) >= 2 and not any("@" in m for m in messages)
    # persisted: a new connection sees the replaced data
    with connect(db_file, read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT customer_id) FROM events").fetchall()[0][0] == 200


def test_write_demo_refuses_when_only_ingested_events_exist(db_file):
    with connect(db_file) as con:
        con.execute("INSERT INTO events (customer_id, ts, event_type) "
                    "VALUES ('X1', TIMESTAMP '2025-01-02 10:00', 'view')")
        with pytest.raises(WorkbenchError, match="1 events"):
            write_demo(con, generate(customers=50, months=1, seed=1))
        assert _counts(con) == {"events": 1, "customers": 0, "demo_truth": 0, "ingests": 0}


def test_default_size_generates_and_writes(db_file):
    """The default demo (its time, target 20 s, is measured by ``python -m benchmarks.timings``)."""
    with connect(db_file) as con:
        summary = create_demo(con)
    assert summary["customers"] == 20_000 and summary["months"] == 12
    assert summary["events"] > 20_000 * 12 * 3
    last = summary["persona_counts_last_month"]
    assert last[EMERGING] / sum(last.values()) >= 0.05
    assert last[FADING] / sum(last.values()) <= 0.03
