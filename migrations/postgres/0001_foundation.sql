-- Participants, their credentials and fixed-IP allowlists, and the exchange log.

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
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE credentials (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint      TEXT NOT NULL UNIQUE,
    participant_code TEXT NOT NULL REFERENCES participants (code),
    subject          TEXT NOT NULL,
    issuer           TEXT NOT NULL,
    serial           TEXT NOT NULL,
    not_before       TIMESTAMPTZ NOT NULL,
    not_after        TIMESTAMPTZ NOT NULL,
    ubn              TEXT,
    card_number      TEXT,
    holder           TEXT NOT NULL,
    roles            TEXT NOT NULL,
    certificate_pem  TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ,
    disabled_at      TIMESTAMPTZ,
    disabled_reason  TEXT
);
CREATE INDEX credentials_participant ON credentials (participant_code);

CREATE TABLE allowlist (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_code TEXT NOT NULL REFERENCES participants (code),
    ip_range         TEXT NOT NULL,
    note             TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (participant_code, ip_range)
);

CREATE TABLE exchange_log (
    seq         BIGINT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
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
CREATE FUNCTION exchange_log_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the exchange log is append-only';
END;
$$;
CREATE TRIGGER exchange_log_append_only BEFORE UPDATE ON exchange_log
    FOR EACH ROW EXECUTE FUNCTION exchange_log_refuse_update();

-- The head of the hash chain. Appending starts with an UPDATE of this row,
-- which serialises concurrent appenders across hub nodes.
CREATE TABLE log_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO log_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
