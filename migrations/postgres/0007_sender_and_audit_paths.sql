-- The sender's side by index (issue 12). A delivery carries its document's
-- sender, which never changes, so the sender's deadline list reads its open
-- deliveries in order from one index instead of every delivery it ever made.
ALTER TABLE deliveries ADD COLUMN sender_code TEXT;
UPDATE deliveries d SET sender_code = doc.sender_code FROM documents doc WHERE doc.id = d.document_id;
ALTER TABLE deliveries ALTER COLUMN sender_code SET NOT NULL;
CREATE INDEX deliveries_sender_open ON deliveries (sender_code, id)
    WHERE state <> 'confirmed' AND paper_resend_at IS NULL;
-- The receiver's overdue list: its open deliveries only, in order.
CREATE INDEX deliveries_recipient_open ON deliveries (recipient_code, id)
    WHERE state IN ('delivered', 'fetched');
-- The timeliness audit: the receiver side grouped in the order of one
-- covering index (nothing sorted); the sender side from the few deliveries
-- that missed the sender deadline or were resent on paper.
CREATE INDEX deliveries_timeliness
    ON deliveries (recipient_code, state, confirm_minutes, delivered_at, confirmed_at, receiver_deadline);
CREATE INDEX deliveries_sender_late
    ON deliveries (sender_code, delivered_at, document_id, sender_deadline, confirmed_at, paper_resend_at)
    WHERE confirmed_at IS NULL OR confirmed_at > sender_deadline OR paper_resend_at IS NOT NULL;
-- Superseded by the two above; one index fewer to write per delivery.
DROP INDEX deliveries_delivered;
-- The retention purge takes the oldest documents in (time, id) order.
DROP INDEX documents_accepted;
CREATE INDEX documents_accepted ON documents (accepted_at, id);
