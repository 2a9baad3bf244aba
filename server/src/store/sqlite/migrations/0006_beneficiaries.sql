-- Beneficiaries as people (issue 12, contract section 10).
--
-- "created_by": the user whose change first stored the record. A volunteer
-- sees the `phone` and `national_id` of a beneficiary only if it is theirs.
-- Set when a push inserts the record and never updated; records stored
-- before this migration take the author of their first change in the log.
ALTER TABLE "records" ADD COLUMN "created_by" TEXT;
UPDATE "records" SET "created_by" = (
    SELECT json_extract(c."body", '$.author') FROM "changes" c
    WHERE c."record_id" = lower(substr(hex("records"."record_id"), 1, 8) || '-' ||
        substr(hex("records"."record_id"), 9, 4) || '-' || substr(hex("records"."record_id"), 13, 4) || '-' ||
        substr(hex("records"."record_id"), 17, 4) || '-' || substr(hex("records"."record_id"), 21, 12))
    ORDER BY c."seq" LIMIT 1
);

-- "merged_into": a beneficiary's current `merged_into` (reports follow it
-- to count a person once). The write with the greatest HLC is always the
-- winning head, so the log gives it for records stored before.
ALTER TABLE "records" ADD COLUMN "merged_into" TEXT;
UPDATE "records" SET "merged_into" = (
    SELECT json_extract(c."body", '$.fields.merged_into.value') FROM "changes" c
    WHERE c."record_id" = lower(substr(hex("records"."record_id"), 1, 8) || '-' ||
        substr(hex("records"."record_id"), 9, 4) || '-' || substr(hex("records"."record_id"), 13, 4) || '-' ||
        substr(hex("records"."record_id"), 17, 4) || '-' || substr(hex("records"."record_id"), 21, 12))
      AND json_extract(c."body", '$.fields.merged_into') IS NOT NULL
    ORDER BY json_extract(c."body", '$.hlc') DESC LIMIT 1
) WHERE "collection" = 2;

-- Pairs of beneficiaries a manager said are not the same person: the
-- duplicates list leaves them out. "a" < "b" (uuid text order).
CREATE TABLE "duplicate_dismissals" (
    "a" TEXT NOT NULL,
    "b" TEXT NOT NULL,
    "centre_id" TEXT,
    "dismissed_by" TEXT NOT NULL,
    "dismissed_at" INTEGER NOT NULL,
    PRIMARY KEY ("a", "b")
) WITHOUT ROWID;
