-- A blob whose bytes no longer match its SHA-256 (found while serving it
-- or by `gwx check`): never served again until it is whole once more.
ALTER TABLE blobs ADD COLUMN damaged_at TEXT;
