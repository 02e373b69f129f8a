import type { Readable } from 'node:stream';
import type { Sql, IntakeRepo, TicketsRepo, RawStore, AttachmentSink, OutboxRepo, SuppressionsRepo } from '../store/index.js';
import type { MessageParser } from '../parse/index.js';
import type { Directory, RulesSettings } from '../rules/index.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import type { UpdateEvent } from '../triggers/index.js';
import type { AuthOutcome } from '../trust/index.js';

/** Everything the pipeline needs, built once by main/CLI and passed in (no singletons). */
export interface PipelineContext {
  sql: Sql;
  intake: IntakeRepo;
  tickets: TicketsRepo;
  /** R67: bounces are matched to their outbox rows. */
  outbox: OutboxRepo;
  /** R68: the suppression list bounces add to and inbound mail clears. */
  suppressions: SuppressionsRepo;
  /** R67/R68: outbound.return_path (VERP recipients are read against it) and soft_bounce_limit. */
  bounces: { returnPath: string | undefined; softBounceLimit: number };
  raw: RawStore;
  attachments: AttachmentSink;
  parser: MessageParser;
  /**
   * PostgreSQL: this node's directory for hand-over files (a big message's raw bytes, the
   * attachments the parser streamed), so big mail is never whole in memory (issue 14).
   */
  scratchDir?: string;
  /** These four read the current settings snapshot (src/settings.ts): a reload swaps it. */
  readonly directory: Directory;
  readonly settings: RulesSettings;
  secret: string;
  logger: Logger;
  clock: Clock;
  /** Names this process in intake claims, so several nodes can share one database. */
  nodeId: string;
  /** R44 settings: whether to check senders, and whose Authentication-Results to believe. */
  readonly trust: { verify: boolean; requireAuthenticatedAgents: boolean; trustedAuthservId: string | undefined };
  /** R43: messages per sender and hour that are processed (the next as many are suspended). */
  readonly limits: { perSenderPerHour: number };
  /** R44: authenticates an SMTP message (SPF for its session, DKIM, DMARC, ARC). */
  authenticate: (raw: Buffer | Readable, session: { ip: string | null; helo: string | null; sender: string | null; messageId?: string | null }) => Promise<AuthOutcome>;
  /** R46: hands one update to the trigger engine, inside the caller's transaction. */
  notify: (event: UpdateEvent, ticketId: number, now: Date) => Promise<void>;
}
