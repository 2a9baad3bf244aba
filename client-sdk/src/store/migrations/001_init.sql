-- The device's local store: merged records, the outbox, rejections and settings.
CREATE TABLE "meta" (
    "key" TEXT PRIMARY KEY NOT NULL,
    "value" TEXT NOT NULL
) WITHOUT ROWID;

-- One row per record: the sync-core codec blob and its rendering.
CREATE TABLE "records" (
    "collection" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "state" BLOB NOT NULL,
    "rendered" TEXT NOT NULL,
    "deleted" INTEGER NOT NULL,
    "conflicts" INTEGER NOT NULL,
    PRIMARY KEY ("collection", "id")
) WITHOUT ROWID;

-- Changes made here and not yet acknowledged by the server.
CREATE TABLE "outbox" (
    "device_seq" INTEGER PRIMARY KEY NOT NULL,
    "change_id" TEXT NOT NULL UNIQUE,
    "collection" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "body" TEXT NOT NULL
);
CREATE INDEX "outbox_record" ON "outbox" ("collection", "record_id");

-- Changes of this device the server refused, with its reason.
CREATE TABLE "rejected" (
    "device_seq" INTEGER PRIMARY KEY NOT NULL,
    "change_id" TEXT NOT NULL,
    "collection" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "detail" TEXT NOT NULL,
    "body" TEXT NOT NULL
);
CREATE INDEX "rejected_record" ON "rejected" ("collection", "record_id");

-- Pulled changes this version of the SDK cannot read (kept, never dropped).
CREATE TABLE "unreadable" (
    "change_id" TEXT PRIMARY KEY NOT NULL,
    "code" TEXT NOT NULL,
    "detail" TEXT NOT NULL,
    "body" TEXT NOT NULL
) WITHOUT ROWID;
