-- Schema version 1 of the Segment Workbench store (DESIGN.md §3).
-- This file is the one exception to "one statement per file": it is the
-- migration script that store.ensure_schema runs inside one transaction.
-- Every statement is idempotent (IF NOT EXISTS).

CREATE TABLE IF NOT EXISTS events (
    customer_id VARCHAR NOT NULL,
    ts          TIMESTAMP NOT NULL,
    event_type  VARCHAR NOT NULL,
    channel     VARCHAR,
    category    VARCHAR,
    amount      DOUBLE DEFAULT 0,
    quantity    DOUBLE,
    ingest_id   INTEGER            -- which import brought the row (NULL: demo generator)
);

CREATE TABLE IF NOT EXISTS customers (
    customer_id VARCHAR PRIMARY KEY,
    email       VARCHAR,
    phone       VARCHAR,
    first_name  VARCHAR,
    last_name   VARCHAR,
    country     VARCHAR,
    zip         VARCHAR,
    city        VARCHAR,
    state       VARCHAR,
    consent_ads BOOLEAN,            -- NULL = unknown
    ingest_id   INTEGER
);

CREATE TABLE IF NOT EXISTS demo_truth (
    customer_id VARCHAR NOT NULL,
    month       DATE NOT NULL,
    persona     VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS ingests (
    ingest_id   INTEGER PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL,
    kind        VARCHAR NOT NULL,   -- events | customers | demo
    file        VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,   -- SHA-256 of the file content
    n_rows      BIGINT NOT NULL,
    n_rejected  BIGINT NOT NULL DEFAULT 0,
    n_warnings  BIGINT NOT NULL DEFAULT 0,
    options     JSON
);

CREATE TABLE IF NOT EXISTS rejects (
    ingest_id   INTEGER NOT NULL,
    file        VARCHAR NOT NULL,
    row_number  BIGINT,             -- 1-based data row in the file (header excluded)
    reason      VARCHAR NOT NULL,
    raw         JSON                -- the bad row as read, every column as text
);

CREATE TABLE IF NOT EXISTS runs (
    run_id      INTEGER PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL,
    as_of       DATE NOT NULL,
    window_days INTEGER NOT NULL,
    status      VARCHAR NOT NULL,   -- 'complete' once every row of the run is stored
    n_customers BIGINT,
    n_segments  INTEGER,
    noise_share DOUBLE,
    params      JSON,
    metrics     JSON,
    model_path  VARCHAR
);

CREATE TABLE IF NOT EXISTS segments (
    run_id         INTEGER NOT NULL,
    segment_id     INTEGER NOT NULL,  -- -1 is noise
    lineage_id     INTEGER,
    size           BIGINT NOT NULL,
    name           VARCHAR,
    suggested_name VARCHAR,
    description    VARCHAR,
    transition     VARCHAR,           -- survived | split | merged | emerged | new
    profile        JSON,              -- KPIs, trait lifts, top traits
    named_by       VARCHAR,
    named_at       TIMESTAMP,
    PRIMARY KEY (run_id, segment_id)
);

CREATE TABLE IF NOT EXISTS assignments (
    run_id      INTEGER NOT NULL,
    customer_id VARCHAR NOT NULL,
    segment_id  INTEGER NOT NULL,
    probability DOUBLE,
    x           DOUBLE,
    y           DOUBLE,
    reconstruction_error DOUBLE
);

CREATE TABLE IF NOT EXISTS transitions (
    from_run     INTEGER NOT NULL,
    to_run       INTEGER NOT NULL,
    from_segment INTEGER,
    to_segment   INTEGER,
    kind         VARCHAR NOT NULL,
    overlap      DOUBLE
);

CREATE TABLE IF NOT EXISTS exports (
    export_id   INTEGER PRIMARY KEY,
    created_at  TIMESTAMP NOT NULL,
    run_id      INTEGER NOT NULL,
    segment_id  INTEGER NOT NULL,
    platform    VARCHAR NOT NULL,
    n_rows      BIGINT NOT NULL,
    n_excluded  BIGINT NOT NULL,
    path        VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    excluded_by_reason JSON
);

CREATE TABLE IF NOT EXISTS name_history (
    run_id      INTEGER NOT NULL,
    segment_id  INTEGER NOT NULL,
    lineage_id  INTEGER,
    name        VARCHAR,
    description VARCHAR,
    changed_by  VARCHAR,
    changed_at  TIMESTAMP NOT NULL
);
