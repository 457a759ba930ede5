-- The blob store this database's blobs are in (DESIGN §11): the identity
-- drawn when the store was first used and kept in it (its marker), and
-- where it was. A node whose blob store is another one refuses to start.
CREATE TABLE blob_store (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    id          TEXT NOT NULL,
    location    TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
