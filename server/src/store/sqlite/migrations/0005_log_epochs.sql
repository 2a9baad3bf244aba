-- The change log's epochs (issue 10, PROTOCOL.md section 4.11): the chain
-- from the database's root epoch to its current one (the highest
-- `generation`). A restore adds an epoch forked at the backup's last
-- position; pull cursors carry their epoch.
CREATE TABLE "log_epochs" (
    "generation" INTEGER PRIMARY KEY,
    "epoch" INTEGER NOT NULL UNIQUE,
    "forked_at" INTEGER,
    "began_at" INTEGER NOT NULL
);
INSERT INTO "log_epochs" ("generation", "epoch", "forked_at", "began_at")
VALUES (0, random(), NULL, unixepoch());
