-- The PostgreSQL store's schema: the same tables as the SQLite store's four
-- migrations, in PostgreSQL's own types (uuid, bytea, boolean, arrays).
-- Times are unix seconds (bigint), as in the SQLite store.

CREATE TABLE meta (
    name text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE centres (
    code text PRIMARY KEY,
    name text NOT NULL,
    province text NOT NULL,
    district text NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL,
    display_name text NOT NULL,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('volunteer', 'manager', 'admin')),
    centre_id text,
    disabled boolean NOT NULL DEFAULT false,
    created_at bigint NOT NULL
);
-- Usernames are unique without regard to ASCII case, as under SQLite's
-- NOCASE: folded under the C collation whatever the database's locale.
CREATE UNIQUE INDEX users_by_name ON users (lower(username COLLATE "C"));
CREATE INDEX users_by_centre ON users (centre_id, lower(username COLLATE "C"));

CREATE TABLE devices (
    key bigserial PRIMARY KEY,
    device_id uuid NOT NULL UNIQUE,
    user_id uuid,
    acked_seq bigint NOT NULL DEFAULT 0,
    clock_offset_ms bigint NOT NULL DEFAULT 0,
    bound_at bigint,
    last_seen_at bigint,
    last_push_at bigint,
    resync bigint NOT NULL DEFAULT 0
);
CREATE INDEX devices_by_user ON devices (user_id);
-- The server's own clock writes resolutions as this device.
INSERT INTO devices (device_id) VALUES ('ffffffff-ffff-ffff-ffff-ffffffffffff');

CREATE TABLE refresh_families (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL,
    device_id uuid NOT NULL,
    revoked boolean NOT NULL DEFAULT false,
    created_at bigint NOT NULL
);
CREATE INDEX refresh_families_by_user ON refresh_families (user_id);
CREATE INDEX refresh_families_by_device ON refresh_families (device_id);

CREATE TABLE refresh_tokens (
    hash bytea PRIMARY KEY,
    family_id bigint NOT NULL REFERENCES refresh_families (id),
    used boolean NOT NULL DEFAULT false,
    expires_at bigint NOT NULL,
    used_at bigint,
    successor bytea,
    graced boolean NOT NULL DEFAULT false
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE login_attempts (
    id bigserial PRIMARY KEY,
    username text NOT NULL,
    address text NOT NULL,
    at bigint NOT NULL,
    pending boolean NOT NULL
);
CREATE INDEX login_attempts_by_username ON login_attempts (lower(username COLLATE "C"), at);
CREATE INDEX login_attempts_by_address ON login_attempts (address, at);
CREATE INDEX login_attempts_by_time ON login_attempts (at);

-- The log's next position. A push takes its positions from this row as the
-- last thing before it commits, and holds the row's lock until it has
-- committed, so positions commit in order: a pull that has seen position N
-- can never later find a new change at or before N.
CREATE TABLE log_head (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL
);
INSERT INTO log_head (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq bigint PRIMARY KEY,
    change_id uuid NOT NULL UNIQUE,
    device_key bigint NOT NULL,
    device_seq bigint NOT NULL,
    collection smallint NOT NULL,
    centre_id text,
    volunteer_id text,
    record_id uuid NOT NULL,
    -- The change as pull returns it (its wire JSON, with author).
    body text NOT NULL
);
CREATE INDEX changes_by_centre ON changes (centre_id, seq);
CREATE INDEX changes_by_record ON changes (record_id, seq);

CREATE TABLE rejections (
    device_key bigint NOT NULL,
    device_seq bigint NOT NULL,
    -- The change id as sent (not always a canonical uuid) and the detail
    -- (which may quote what was sent) as UTF-8 bytes: PostgreSQL's text
    -- cannot hold the NUL character, which a sender may put in them.
    change_id bytea NOT NULL,
    code text NOT NULL,
    detail bytea NOT NULL,
    body text NOT NULL,
    rejected_at bigint,
    PRIMARY KEY (device_key, device_seq)
);

CREATE TABLE records (
    key bigserial PRIMARY KEY,
    collection smallint NOT NULL,
    record_id uuid NOT NULL,
    centre_id text,
    volunteer_id text,
    village_code text,
    started_on text,
    deleted boolean NOT NULL,
    conflicts integer NOT NULL,
    version text,
    help_type text,
    outcome text,
    duration_min bigint,
    people_helped bigint,
    -- A session's linked beneficiaries.
    beneficiaries uuid[],
    state bytea NOT NULL,
    UNIQUE (collection, record_id)
);
CREATE INDEX records_by_centre ON records (collection, centre_id, key);
CREATE INDEX records_for_console ON records (collection, centre_id, started_on, key)
    INCLUDE (deleted, conflicts, volunteer_id, village_code, help_type, outcome);
CREATE INDEX records_conflicted ON records (collection, centre_id, key)
    WHERE conflicts > 0 AND NOT deleted;

CREATE TABLE web_sessions (
    hash bytea PRIMARY KEY,
    user_id uuid NOT NULL,
    csrf text NOT NULL,
    created_at bigint NOT NULL,
    last_seen_at bigint NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
