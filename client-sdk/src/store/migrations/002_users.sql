-- The server's user directory (GET /v1/users) as a manager's or admin's
-- device last read it, so authors show by name. Rows are kept when a user
-- leaves the directory: their old writes still need a name.
CREATE TABLE "users" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "username" TEXT NOT NULL,
    "display_name" TEXT
) WITHOUT ROWID;
