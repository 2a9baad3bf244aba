-- Changes the server acknowledged, kept for 30 days after their
-- acknowledgement exactly as they were sent: a server restored from an older
-- backup answers `server_restored` and the device sends them again, byte for
-- byte (PROTOCOL.md section 4.11).
CREATE TABLE "sent" (
    "device_seq" INTEGER PRIMARY KEY NOT NULL,
    "change_id" TEXT NOT NULL UNIQUE,
    "collection" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "acked_at_ms" INTEGER NOT NULL
);
CREATE INDEX "sent_by_age" ON "sent" ("acked_at_ms");
