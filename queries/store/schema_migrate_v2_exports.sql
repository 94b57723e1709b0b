-- Schema version 2: what audience exports need beyond version 1 (DESIGN.md §3, §5).
-- Like schema_migrate_v1.sql this is a migration script, the exception to "one statement per
-- file": store.ensure_schema runs it inside one transaction. Every statement is
-- idempotent (IF NOT EXISTS).

-- full = the audience file; adds / removes = its delta against the previous full export
ALTER TABLE exports ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'full';
-- the segments' lineage ids, sorted and joined by '+': deltas compare exports of one lineage key
ALTER TABLE exports ADD COLUMN IF NOT EXISTS lineage_key VARCHAR;
-- every segment id in the file (segment_id holds the first)
ALTER TABLE exports ADD COLUMN IF NOT EXISTS segment_ids JSON;
-- for adds / removes rows: the full export they belong to, and the one they were compared with
ALTER TABLE exports ADD COLUMN IF NOT EXISTS parent_export_id INTEGER;
ALTER TABLE exports ADD COLUMN IF NOT EXISTS previous_export_id INTEGER;
-- min_probability, allow_unknown_consent, include_pii, min_size, warnings
ALTER TABLE exports ADD COLUMN IF NOT EXISTS options JSON;

-- Which customers each full export holds (what the next delta is computed against).
CREATE TABLE IF NOT EXISTS export_members (
    export_id   INTEGER NOT NULL,
    customer_id VARCHAR NOT NULL
);
