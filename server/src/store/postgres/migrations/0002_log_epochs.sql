-- The change log's epochs (as SQLite's migration 5): the chain from the
-- database's root epoch to its current one (the highest `generation`). A
-- restore adds an epoch forked at the backup's last position; pull cursors
-- carry their epoch.
CREATE TABLE log_epochs (
    generation integer PRIMARY KEY,
    epoch bigint NOT NULL UNIQUE,
    forked_at bigint,
    began_at bigint NOT NULL
);
INSERT INTO log_epochs (generation, epoch, forked_at, began_at)
VALUES (0, (random() * 9.2e18)::bigint, NULL, extract(epoch FROM now())::bigint);
