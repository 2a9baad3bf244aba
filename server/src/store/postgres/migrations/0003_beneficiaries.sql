-- Beneficiaries as people (as SQLite's migration 6): who first stored each
-- record (a volunteer sees `phone` and `national_id` only on their own),
-- and the pairs of beneficiaries dismissed from the duplicates list.
ALTER TABLE records ADD COLUMN created_by uuid;
UPDATE records r SET created_by = (
    SELECT (c.body::json ->> 'author')::uuid FROM changes c
    WHERE c.record_id = r.record_id ORDER BY c.seq LIMIT 1
);

-- A beneficiary's current merged_into (the log's write with the greatest
-- HLC is always the winning head).
ALTER TABLE records ADD COLUMN merged_into uuid;
UPDATE records r SET merged_into = (
    SELECT (c.body::json -> 'fields' -> 'merged_into' ->> 'value')::uuid FROM changes c
    WHERE c.record_id = r.record_id AND (c.body::jsonb -> 'fields') ? 'merged_into'
    ORDER BY (c.body::json ->> 'hlc') COLLATE "C" DESC LIMIT 1
) WHERE r.collection = 2;

CREATE TABLE duplicate_dismissals (
    a uuid NOT NULL,
    b uuid NOT NULL,
    centre_id text,
    dismissed_by uuid NOT NULL,
    dismissed_at bigint NOT NULL,
    PRIMARY KEY (a, b)
);
