-- The erasure ledger (contract section 10): every beneficiary erased under
-- the PDPA, by whom and when. A restore applies every entry again to the
-- restored database, so that a backup older than an erasure does not bring
-- the person back.
CREATE TABLE "erasures" (
    "record_id" TEXT PRIMARY KEY,
    "centre_id" TEXT,
    "erased_by" TEXT NOT NULL,
    "erased_at" INTEGER NOT NULL
) WITHOUT ROWID;
