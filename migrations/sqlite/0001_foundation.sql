-- Participants, their credentials and fixed-IP allowlists, and the exchange log.
-- Times are RFC 3339 text in UTC, written with microsecond precision.

CREATE TABLE participants (
    code            TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('agency', 'connected_user')),
    name            TEXT NOT NULL,
    ubn             TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'active', 'suspended', 'terminated')),
    status_reason   TEXT,
    can_receive     BOOLEAN NOT NULL,
    can_send        BOOLEAN NOT NULL,
    supervisor_code TEXT REFERENCES participants (code),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE credentials (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint      TEXT NOT NULL UNIQUE,
    participant_code TEXT NOT NULL REFERENCES participants (code),
    subject          TEXT NOT NULL,
    issuer           TEXT NOT NULL,
    serial           TEXT NOT NULL,
    not_before       TEXT NOT NULL,
    not_after        TEXT NOT NULL,
    ubn              TEXT,
    card_number      TEXT,
    holder           TEXT NOT NULL,
    roles            TEXT NOT NULL,
    certificate_pem  TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    last_used_at     TEXT,
    disabled_at      TEXT,
    disabled_reason  TEXT
);
CREATE INDEX credentials_participant ON credentials (participant_code);

CREATE TABLE allowlist (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    participant_code TEXT NOT NULL REFERENCES participants (code),
    ip_range         TEXT NOT NULL,
    note             TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (participant_code, ip_range)
);

CREATE TABLE exchange_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    participant TEXT,
    credential  TEXT,
    source_ip   TEXT,
    document    TEXT,
    counterpart TEXT,
    problem     TEXT,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX exchange_log_at ON exchange_log (at);
CREATE INDEX exchange_log_participant ON exchange_log (participant, seq);
CREATE INDEX exchange_log_action ON exchange_log (action, seq);

-- Entries are never changed; only the retention purge deletes old ones.
CREATE TRIGGER exchange_log_append_only BEFORE UPDATE ON exchange_log
BEGIN
    SELECT RAISE(ABORT, 'the exchange log is append-only');
END;

-- The head of the hash chain. Appending starts with an UPDATE of this row,
-- which serialises concurrent appenders.
CREATE TABLE log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO log_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
