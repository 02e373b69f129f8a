/** R43 counts stop at the limit; a recipient row knows whether its message was held (no join). */
export const sql = `
ALTER TABLE outbox_recipients ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
UPDATE outbox_recipients SET held = 1 WHERE outbox_id IN (SELECT id FROM outbox WHERE status = 'held');
`;
