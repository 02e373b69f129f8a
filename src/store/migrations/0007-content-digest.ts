/**
 * R65: the content digest of each message (From, Date, Subject, body), to tell a redelivery of a
 * stored message from a different message that reuses its Message-ID. Rows stored before this
 * migration keep NULL: their digest is computed from their raw bytes the first time a message
 * with the same Message-ID arrives (a backfill here would read every raw file at upgrade).
 */
export const sql = `
ALTER TABLE intake ADD COLUMN content_digest TEXT;
`;
