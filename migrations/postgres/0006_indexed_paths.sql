-- Every request path by index, at the size a city reaches (issue 12).
-- The inbox is read in delivery order (`id` is a UUIDv7) after a cursor:
-- the index gives the page directly instead of sorting the whole inbox.
DROP INDEX deliveries_inbox;
CREATE INDEX deliveries_inbox ON deliveries (recipient_code, id);
DROP INDEX deliveries_state;
CREATE INDEX deliveries_state ON deliveries (recipient_code, state, id);
-- The retention purge: documents by age, and whether a blob is still referenced.
CREATE INDEX documents_accepted ON documents (accepted_at);
CREATE INDEX document_parts_sha256 ON document_parts (sha256);
