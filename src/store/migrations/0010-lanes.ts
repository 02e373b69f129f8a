/**
 * processing.workers > 1: each message's lane, a hash of its thread fixed when it is received,
 * so the mail of one thread is processed by one worker in arrival order (R10). 0 for mail
 * received before, and for every message while one worker processes.
 */
export const sql = `
ALTER TABLE intake ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
`;
