-- Version 1.1: centres as managed records, account lifecycle (display names,
-- disabling, unbinding devices, revocation), the refresh grace window, and
-- login throttling per username and per client address.

CREATE TABLE "centres" (
    "code" TEXT PRIMARY KEY,
    "name" TEXT NOT NULL,
    "province" TEXT NOT NULL,
    "district" TEXT NOT NULL,
    "created_at" INTEGER NOT NULL
) WITHOUT ROWID;

-- A database made by a v1 server gets one centre per code already in use,
-- kept verbatim and named by its code.
INSERT INTO "centres" ("code", "name", "province", "district", "created_at")
SELECT "centre_id", "centre_id", '', '', unixepoch() FROM (
    SELECT "centre_id" FROM "users"
    UNION SELECT "centre_id" FROM "records"
    UNION SELECT "centre_id" FROM "changes"
) WHERE "centre_id" IS NOT NULL;

ALTER TABLE "users" ADD COLUMN "display_name" TEXT NOT NULL DEFAULT '';
UPDATE "users" SET "display_name" = "username";
ALTER TABLE "users" ADD COLUMN "disabled" INTEGER NOT NULL DEFAULT 0;
-- Usernames are compared without regard to case (they are ASCII).
CREATE UNIQUE INDEX "users_by_name" ON "users" ("username" COLLATE NOCASE);
CREATE INDEX "users_by_centre" ON "users" ("centre_id", "username" COLLATE NOCASE);

-- A device may now be unbound ("user_id" NULL) and keeps its "key" and
-- "acked_seq" across bindings, so whoever logs in on it next continues its
-- sequence. "resync" makes its next pull 409 resync_required until it pulls
-- from the beginning (its user's scope changed).
CREATE TABLE "devices_v2" (
    "key" INTEGER PRIMARY KEY,
    "device_id" BLOB NOT NULL UNIQUE,
    "user_id" BLOB,
    "acked_seq" INTEGER NOT NULL DEFAULT 0,
    "clock_offset_ms" INTEGER NOT NULL DEFAULT 0,
    "bound_at" INTEGER,
    "last_seen_at" INTEGER,
    "last_push_at" INTEGER,
    "resync" INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "devices_v2" ("key", "device_id", "user_id", "acked_seq", "clock_offset_ms", "bound_at", "last_seen_at")
SELECT "key", "device_id", "user_id", "acked_seq", "clock_offset_ms", "bound_at", "bound_at" FROM "devices";
DROP TABLE "devices";
ALTER TABLE "devices_v2" RENAME TO "devices";
CREATE INDEX "devices_by_user" ON "devices" ("user_id");

CREATE INDEX "refresh_families_by_user" ON "refresh_families" ("user_id");
CREATE INDEX "refresh_families_by_device" ON "refresh_families" ("device_id");

-- The grace window: when a token is spent, the hash of the token issued in
-- its place and the time, so a retry of a refresh whose answer was lost can
-- be told apart from a stolen token.
ALTER TABLE "refresh_tokens" ADD COLUMN "used_at" INTEGER;
ALTER TABLE "refresh_tokens" ADD COLUMN "successor" BLOB;
ALTER TABLE "refresh_tokens" ADD COLUMN "graced" INTEGER NOT NULL DEFAULT 0;

-- Login attempts: failures, and attempts whose password is being checked
-- ("pending"), so parallel guesses are counted before they are verified.
DROP TABLE "login_failures";
CREATE TABLE "login_attempts" (
    "id" INTEGER PRIMARY KEY,
    "username" TEXT NOT NULL COLLATE NOCASE,
    "address" TEXT NOT NULL,
    "at" INTEGER NOT NULL,
    "pending" INTEGER NOT NULL
);
CREATE INDEX "login_attempts_by_username" ON "login_attempts" ("username", "at");
CREATE INDEX "login_attempts_by_address" ON "login_attempts" ("address", "at");
CREATE INDEX "login_attempts_by_time" ON "login_attempts" ("at");
