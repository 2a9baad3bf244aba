-- Writes the server masked for this user (contract section 10: a
-- volunteer sees `phone` and `national_id` only on the beneficiaries they
-- created). The merge state holds their value as null; this holds what the
-- server showed of each (its last 4 characters), by key and HLC, so the
-- record shows it as masked rather than as empty.
CREATE TABLE "masks" (
    "collection" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "hlc" TEXT NOT NULL,
    "shown" TEXT NOT NULL,
    PRIMARY KEY ("collection", "id", "key", "hlc")
) WITHOUT ROWID;
