-- The working-day calendar, deadlines stored per delivery, and the log's
-- retention checkpoints.

-- A DGPA office calendar year as loaded (shipped or uploaded by it_bureau).
CREATE TABLE calendar_years (
    year      INTEGER PRIMARY KEY,
    source    TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    loaded_by TEXT NOT NULL
);

CREATE TABLE calendar_days (
    day     TEXT PRIMARY KEY,
    year    INTEGER NOT NULL REFERENCES calendar_years (year),
    working BOOLEAN NOT NULL,
    note    TEXT NOT NULL
);

-- Unplanned closures (typhoon 停班), declared by it_bureau.
CREATE TABLE calendar_closures (
    day         TEXT PRIMARY KEY,
    part        TEXT NOT NULL CHECK (part IN ('day', 'afternoon')),
    reason      TEXT NOT NULL,
    declared_at TEXT NOT NULL,
    declared_by TEXT NOT NULL
);

-- Deadlines computed when the document was delivered (DESIGN §6); only an
-- explicit, logged recomputation changes them.
ALTER TABLE deliveries ADD COLUMN sender_deadline TEXT;
ALTER TABLE deliveries ADD COLUMN receiver_deadline TEXT;
ALTER TABLE deliveries ADD COLUMN immediate_deadline TEXT;
-- Office minutes from delivery to confirmation, for the timeliness audit.
ALTER TABLE deliveries ADD COLUMN confirm_minutes INTEGER;

CREATE INDEX deliveries_delivered ON deliveries (delivered_at);
CREATE INDEX deliveries_open ON deliveries (document_id)
    WHERE state <> 'confirmed' AND paper_resend_at IS NULL;

CREATE INDEX exchange_log_counterpart ON exchange_log (counterpart, seq);
CREATE INDEX exchange_log_document ON exchange_log (document, seq);

-- Where the verifiable chain starts after a retention purge: the last
-- purged entry's sequence number and hash.
CREATE TABLE log_checkpoints (
    seq       INTEGER PRIMARY KEY,
    hash      TEXT NOT NULL,
    last_at   TEXT NOT NULL,
    purged_at TEXT NOT NULL,
    entries   INTEGER NOT NULL,
    documents INTEGER NOT NULL,
    blobs     INTEGER NOT NULL
);
