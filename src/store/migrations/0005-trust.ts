/**
 * R41-R43: who sent each message (the From header, for the per-sender rate), what it was
 * about (for the suspended list), which checks a release skips, and which users are robots
 * (never notified, R42).
 */
export const sql = `
ALTER TABLE intake ADD COLUMN sender TEXT;
ALTER TABLE intake ADD COLUMN subject TEXT;
ALTER TABLE intake ADD COLUMN skip_checks TEXT NOT NULL DEFAULT '[]';
CREATE INDEX intake_sender ON intake(sender, received_at);
ALTER TABLE users ADD COLUMN is_robot INTEGER NOT NULL DEFAULT 0;
`;
