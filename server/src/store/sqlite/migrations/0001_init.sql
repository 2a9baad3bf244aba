-- Asa Sync server schema, version 1. Never edit a migration that has shipped:
-- add a new numbered file instead.

CREATE TABLE "meta" (
    "name" TEXT PRIMARY KEY,
    "value" BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE "users" (
    "id" BLOB PRIMARY KEY,
    "username" TEXT NOT NULL UNIQUE,
    "password_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL CHECK ("role" IN ('volunteer', 'manager', 'admin')),
    "centre_id" TEXT,
    "created_at" INTEGER NOT NULL
) WITHOUT ROWID;

-- A device is bound to the user who first logged in on it. "key" is the
-- compact id the change log uses.
CREATE TABLE "devices" (
    "key" INTEGER PRIMARY KEY,
    "device_id" BLOB NOT NULL UNIQUE,
    "user_id" BLOB NOT NULL,
    "acked_seq" INTEGER NOT NULL DEFAULT 0,
    "clock_offset_ms" INTEGER NOT NULL DEFAULT 0,
    "bound_at" INTEGER NOT NULL
);

CREATE TABLE "refresh_families" (
    "id" INTEGER PRIMARY KEY,
    "user_id" BLOB NOT NULL,
    "device_id" BLOB NOT NULL,
    "revoked" INTEGER NOT NULL DEFAULT 0,
    "created_at" INTEGER NOT NULL
);

-- Refresh tokens are stored as SHA-256 hashes only.
CREATE TABLE "refresh_tokens" (
    "hash" BLOB PRIMARY KEY,
    "family_id" INTEGER NOT NULL REFERENCES "refresh_families" ("id"),
    "used" INTEGER NOT NULL DEFAULT 0,
    "expires_at" INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE "login_failures" (
    "username" TEXT PRIMARY KEY,
    "failures" INTEGER NOT NULL,
    "first_at" INTEGER NOT NULL
) WITHOUT ROWID;

-- The append-only change log. "seq" is the pull cursor. Rows are written in
-- "seq" order, so appends cluster at the end of every index but "change_id"
-- (time-ordered too when clients use UUIDv7, as the SDK does).
CREATE TABLE "changes" (
    "seq" INTEGER PRIMARY KEY,
    "change_id" BLOB NOT NULL UNIQUE,
    "device_key" INTEGER NOT NULL,
    "device_seq" INTEGER NOT NULL,
    "collection" INTEGER NOT NULL,
    "centre_id" TEXT,
    "volunteer_id" TEXT,
    "body" TEXT NOT NULL
);
CREATE INDEX "changes_by_centre" ON "changes" ("centre_id", "seq");

-- Rejected changes keep their slot in the device's sequence and their reason.
CREATE TABLE "rejections" (
    "device_key" INTEGER NOT NULL,
    "device_seq" INTEGER NOT NULL,
    "change_id" BLOB NOT NULL,
    "code" TEXT NOT NULL,
    "detail" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    PRIMARY KEY ("device_key", "device_seq")
) WITHOUT ROWID;

-- One row per record: its merge state, and the columns manager queries and
-- reports filter and count on. Records are rendered from "state" when read,
-- so a push writes no JSON view of them.
CREATE TABLE "records" (
    "key" INTEGER PRIMARY KEY,
    "collection" INTEGER NOT NULL,
    "record_id" BLOB NOT NULL,
    "centre_id" TEXT,
    "volunteer_id" TEXT,
    "village_code" TEXT,
    "started_on" TEXT,
    "deleted" INTEGER NOT NULL,
    "conflicts" INTEGER NOT NULL,
    "version" TEXT,
    "help_type" TEXT,
    "people_helped" INTEGER,
    -- A session's linked beneficiaries, as a JSON array of ids.
    "beneficiaries" TEXT,
    "state" BLOB NOT NULL,
    UNIQUE ("collection", "record_id")
);
CREATE INDEX "records_by_centre" ON "records" ("collection", "centre_id", "key");
