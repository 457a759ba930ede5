-- Send groups (行文群組) with their version history, connected-user
-- applications with their events, notifications, the public roster's change
-- list, and IP blocks.

ALTER TABLE participants ADD COLUMN email TEXT;

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    scope       TEXT NOT NULL CHECK (scope IN ('shared', 'private')),
    owner_code  TEXT NOT NULL REFERENCES participants (code),
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);

-- The current members; each version's full content is in group_versions.
CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES groups (id),
    position    INTEGER NOT NULL,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('participant', 'group')),
    member      TEXT NOT NULL,
    PRIMARY KEY (group_id, position)
);
CREATE INDEX group_members_member ON group_members (member_kind, member);

CREATE TABLE group_versions (
    group_id    TEXT NOT NULL REFERENCES groups (id),
    version     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    actor_code  TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    change      TEXT NOT NULL CHECK (change IN ('created', 'updated', 'deleted')),
    name        TEXT NOT NULL,
    members     TEXT NOT NULL,
    PRIMARY KEY (group_id, version)
);

CREATE TABLE applications (
    id                   TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL CHECK (kind IN ('new', 'change', 'cancel')),
    state                TEXT NOT NULL CHECK (state IN ('submitted', 'correction_requested', 'approved', 'rejected', 'activated')),
    participant_code     TEXT,
    can_receive          BOOLEAN NOT NULL,
    can_send             BOOLEAN NOT NULL,
    organisation_name    TEXT NOT NULL,
    ubn                  TEXT NOT NULL,
    card_number          TEXT NOT NULL,
    card_activation_date TEXT NOT NULL,
    fixed_ips            TEXT NOT NULL,
    contact_name         TEXT NOT NULL,
    contact_phone        TEXT NOT NULL,
    contact_fax          TEXT NOT NULL,
    contact_email        TEXT NOT NULL,
    supervisor_code      TEXT NOT NULL REFERENCES participants (code),
    terms_accepted_at    TEXT NOT NULL,
    certificate_fingerprint TEXT NOT NULL,
    certificate_pem      TEXT NOT NULL,
    reason               TEXT,
    submitted_at         TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX applications_supervisor ON applications (supervisor_code, state);
CREATE INDEX applications_certificate ON applications (certificate_fingerprint);

CREATE TABLE application_events (
    application_id TEXT NOT NULL REFERENCES applications (id),
    seq            INTEGER NOT NULL,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    reason         TEXT,
    PRIMARY KEY (application_id, seq)
);

-- To a participant (by code) or to an applicant not yet registered (by the
-- fingerprint of the certificate it applied with).
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    participant     TEXT,
    certificate     TEXT,
    application_id  TEXT REFERENCES applications (id),
    at              TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    email_to        TEXT,
    emailed_at      TEXT,
    email_error     TEXT
);
CREATE INDEX notifications_participant ON notifications (participant, id);
CREATE INDEX notifications_certificate ON notifications (certificate, id);

-- The published roster's history (§5-4): registrations, changes, suspensions, cancellations.
CREATE TABLE roster_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    code        TEXT NOT NULL,
    change      TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX roster_changes_at ON roster_changes (at, id);

CREATE TABLE blocks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ip_range    TEXT NOT NULL UNIQUE,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL
);
