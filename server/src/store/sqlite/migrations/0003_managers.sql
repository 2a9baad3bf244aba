-- Version 1.1, section 9: what managers read and write, and the console's
-- web sessions.

-- Columns the sessions list filters on and the programme report sums. The
-- server fills them for existing records from each record's merge state
-- right after this file runs (they cannot be read out of the binary state in
-- SQL).
ALTER TABLE "records" ADD COLUMN "outcome" TEXT;
ALTER TABLE "records" ADD COLUMN "duration_min" INTEGER;

-- A record's history: its changes in log order.
ALTER TABLE "changes" ADD COLUMN "record_id" TEXT;
UPDATE "changes" SET "record_id" = json_extract("body", '$.record_id');
CREATE INDEX "changes_by_record" ON "changes" ("record_id", "seq");

-- When each rejection happened (devices list: rejections in the last 7 days).
ALTER TABLE "rejections" ADD COLUMN "rejected_at" INTEGER;

-- The server's own device, whose key the log gives the changes the server
-- writes (a manager's resolution of a conflict): the all-ones uuid, which
-- no phone may use, bound to nobody.
INSERT INTO "devices" ("device_id", "user_id", "acked_seq", "clock_offset_ms")
VALUES (x'ffffffffffffffffffffffffffffffff', NULL, 0, 0)
ON CONFLICT ("device_id") DO NOTHING;

-- Console logins: a cookie's token is stored as its SHA-256 hash only, with
-- the session's CSRF token; a session ends at logout, on idle expiry, and
-- when its user is disabled or changed.
CREATE TABLE "web_sessions" (
    "hash" BLOB PRIMARY KEY,
    "user_id" BLOB NOT NULL,
    "csrf" TEXT NOT NULL,
    "created_at" INTEGER NOT NULL,
    "last_seen_at" INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX "web_sessions_by_user" ON "web_sessions" ("user_id");
