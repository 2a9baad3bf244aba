-- The erasure ledger (as SQLite's migration 7).
CREATE TABLE erasures (
    record_id uuid PRIMARY KEY,
    centre_id text,
    erased_by uuid NOT NULL,
    erased_at bigint NOT NULL
);
