export { openDatabase, type Db } from './db.js';
export { RawStore, sha256Hex, type RawWriteResult } from './raw-store.js';
export { AttachmentStore } from './attachment-store.js';
export { createIntakeRepo, type IntakeRepo, type IntakeRow, type NewIntake, type InsertResult, type Via, type IntakeStatus } from './intake-repo.js';
export { createIntakeWriter, type IntakeWriter } from './intake-writer.js';
export { createTicketsRepo, type TicketsRepo, type TicketState, type TicketStatus, type Person, type Role, type NewComment, type NewAttachment } from './tickets-repo.js';
export { createTicketViewsRepo, type TicketViewsRepo, type TicketJson, type CommentJson } from './ticket-views-repo.js';
export { createOutboxRepo, type OutboxRepo, type OutboundRow, type NewOutbound, type OutboundPerson, type OutboxStatus } from './outbox-repo.js';
export { createImapStateRepo, type ImapStateRepo, type ImapState } from './imap-state-repo.js';
