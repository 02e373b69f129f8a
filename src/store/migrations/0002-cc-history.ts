/**
 * R28: a CC added by a message is owed the ticket's public history in their first
 * notification; the notification engine clears the mark once it has sent it.
 */
export const sql = `
ALTER TABLE ticket_ccs ADD COLUMN history_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ticket_ccs ADD COLUMN added_by_comment_id INTEGER REFERENCES comments(id);
`;
