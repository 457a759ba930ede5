-- Documents, their parts (content-addressed blobs) and one delivery per recipient.

-- Small blobs are kept inline (data), durable with the transaction that
-- accepts their document; larger ones are files under data/blobs.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    data       BYTEA,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE documents (
    id                     TEXT PRIMARY KEY,
    sender_code            TEXT NOT NULL REFERENCES participants (code),
    document_number        TEXT NOT NULL,
    envelope_sha256        TEXT NOT NULL,
    subject                TEXT NOT NULL,
    speed                  TEXT NOT NULL,
    classification         TEXT NOT NULL,
    immediate_confirmation BOOLEAN NOT NULL,
    kind                   TEXT NOT NULL,
    document_date          TEXT NOT NULL,
    signer_fingerprint     TEXT NOT NULL,
    submitted_by           TEXT NOT NULL,
    source_ip              TEXT NOT NULL,
    accepted_at            TIMESTAMPTZ NOT NULL,
    receipt                BYTEA NOT NULL,
    UNIQUE (sender_code, document_number)
);
CREATE INDEX documents_sender ON documents (sender_code, accepted_at);

-- The parts exactly as submitted, in order: envelope, signature, document, attachments.
CREATE TABLE document_parts (
    document_id TEXT NOT NULL REFERENCES documents (id),
    seq         INTEGER NOT NULL,
    part        TEXT NOT NULL CHECK (part IN ('envelope', 'signature', 'document', 'attachment')),
    role        TEXT,
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (document_id, seq)
);

CREATE TABLE deliveries (
    id                TEXT PRIMARY KEY,
    document_id       TEXT NOT NULL REFERENCES documents (id),
    recipient_code    TEXT NOT NULL REFERENCES participants (code),
    recipient_unit    TEXT,
    kind              TEXT NOT NULL CHECK (kind IN ('original', 'copy')),
    via_group         TEXT,
    state             TEXT NOT NULL CHECK (state IN ('delivered', 'fetched', 'confirmed', 'returned')),
    delivered_at      TIMESTAMPTZ NOT NULL,
    fetched_at        TIMESTAMPTZ,
    fetched_by        TEXT,
    confirmed_at      TIMESTAMPTZ,
    confirmed_by      TEXT,
    returned_at       TIMESTAMPTZ,
    returned_by       TEXT,
    return_reason     TEXT,
    paper_resend_at   TIMESTAMPTZ,
    paper_resend_by   TEXT,
    paper_resend_note TEXT,
    UNIQUE (document_id, recipient_code)
);
CREATE INDEX deliveries_inbox ON deliveries (recipient_code, delivered_at, id);
CREATE INDEX deliveries_state ON deliveries (recipient_code, state, delivered_at);
