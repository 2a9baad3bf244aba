-- The console's sessions list (issue 9): a centre's records newest first by
-- start date, with every column the list filters on, so that counting the
-- matches and skipping to a deep page read this index alone, never the
-- records' merge states.
CREATE INDEX "records_for_console" ON "records" (
    "collection", "centre_id", "started_on", "key",
    "deleted", "conflicts", "volunteer_id", "village_code", "help_type", "outcome"
);

-- Records with a key in conflict: the console's badge on every page and its
-- conflicts list count and read these alone.
CREATE INDEX "records_conflicted" ON "records" ("collection", "centre_id", "key")
WHERE "conflicts" > 0 AND "deleted" = 0;
