-- The sender's sent documents, newest first, a page at a time: the index
-- gives the page in order (the id breaks ties of one instant), and each
-- document's counts are read from its own deliveries. It replaces
-- documents_sender, whose columns it starts with.
CREATE INDEX documents_sent ON documents (sender_code, accepted_at, id);
DROP INDEX documents_sender;
