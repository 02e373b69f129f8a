import type { Db, IntakeRepo, TicketsRepo, RawStore, AttachmentStore } from '../store/index.js';
import type { MessageParser } from '../parse/index.js';
import type { Directory, RulesSettings } from '../rules/index.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import type { UpdateEvent } from '../triggers/index.js';

/** Everything the pipeline needs, built once by main/CLI and passed in (no singletons). */
export interface PipelineContext {
  db: Db;
  intake: IntakeRepo;
  tickets: TicketsRepo;
  raw: RawStore;
  attachments: AttachmentStore;
  parser: MessageParser;
  directory: Directory;
  settings: RulesSettings;
  replyLine: string;
  secret: string;
  logger: Logger;
  clock: Clock;
  /** Names this process in intake claims, so several nodes can share one database. */
  nodeId: string;
  /** R44 settings: whether to check senders, and whose Authentication-Results to believe. */
  trust: { verify: boolean; requireAuthenticatedAgents: boolean; trustedAuthservId: string | undefined };
  /** R46: hands one update to the trigger engine, inside the caller's transaction. */
  notify: (event: UpdateEvent, ticketId: number, now: Date) => void;
}
