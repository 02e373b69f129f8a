import type { Config } from './config/index.js';
import { createRateCountersRepo, createTicketsRepo, createTicketViewsRepo, createOutboxRepo, createSuppressionsRepo, AttachmentStore } from './store/index.js';
import { composeIntake, type Intake } from './compose-intake.js';
import { writeGate } from './shared/write-gate.js';
import type { Trigger, Automation } from './triggers/index.js';
import { settingsOf, keysNeedingRestart } from './settings.js';
import { createOutboundSender } from './outbound/index.js';
import { createNotifier, runAutomations, type NotifierDeps } from './pipeline/index.js';
import { makeNodeId } from './shared/node-id.js';
import { createClaimLease } from './pipeline/claims.js';
import { createLeadership } from './pipeline/leader.js';
import { createMetrics } from './shared/metrics.js';
import { authenticateMessage, createDnsResolver } from './trust/index.js';
import { createMessageParser } from './parse/index.js';
import { supportAddressOf } from './rules/index.js';
import { refreshTokenKey, type OAuth2Settings, type RefreshTokenStore } from './shared/oauth2.js';
import { createIntakeProcessor, type PipelineContext } from './pipeline/index.js';
import type { LaneFilter } from './store/index.js';
import { systemClock, type Clock } from './shared/clock.js';
import type { Logger } from './shared/logger.js';
import { freshScratchDir, removeScratchDir } from './store/scratch.js';

/**
 * The composition root: builds every stage from one validated Config. serve, inject and the
 * other CLI commands and the tests all start here, so they run the same code.
 */
export interface ComposeOptions {
  logger: Logger; clock?: Clock; parseWorkers?: number; readOnly?: boolean;
  /** The claim owner (a processing thread of serve is given its node's id, see processing/). */
  nodeId?: string;
  /** processing.workers > 1: the lanes this app's processor takes. */
  lanes?: LaneFilter;
  /** Whether to write the config's agents into the users table at start (serve's main thread does; its processing threads need not). */
  syncStaff?: boolean;
  /** Whether this app's metrics include the process's CPU and memory (not in a processing thread). */
  processMetrics?: boolean;
  /**
   * This app's loop serves SMTP while threads process (serve): SQLite lock waits are short and
   * retried off the loop (intake-writer lockWaitMs), and the backlog gate is kept.
   */
  listener?: boolean;
  /** A processing batch commits after this long and goes on in a new transaction (see createIntakeProcessor). */
  txBudgetMs?: number;
  /** false: metrics count nothing and prom-client is not loaded (CLI commands serve no /metrics). */
  metrics?: boolean;
  /** The intake half, when the caller composed it first (inject: store, then process only if no daemon does). */
  intake?: Intake;
  /**
   * serve on SQLite (shared/write-gate.ts): the listener marks its intake commits here, and a
   * processing thread's processor yields to them.
   */
  writeGate?: { memory: SharedArrayBuffer; side: 'listener' | 'processing'; /** processing: the thread's index */ slot?: number };
}

export async function composeApp(initial: Config, opts: ComposeOptions) {
  const clock = opts.clock ?? systemClock;
  const config = initial;
  let current = settingsOf(initial);
  // readOnly (list/show/stats commands): no data_dir, migration, secret file or staff sync is written.
  const readOnly = opts.readOnly ?? false;
  const metrics = createMetrics({ processMetrics: opts.processMetrics !== false, enabled: opts.metrics !== false });
  // The intake half (store, accept path, backlog gate, key): inject may have built it already.
  const base = opts.intake ?? await composeIntake(config, {
    logger: opts.logger, clock, readOnly, metrics, ...(opts.listener ? { listener: true } : {}),
    ...(opts.writeGate?.side === 'listener' ? { writeGate: opts.writeGate.memory } : {}),
  });
  const { store, sql, intake, meta, secret, backlog, accept, nodes } = base;
  const tickets = createTicketsRepo(sql);
  const views = createTicketViewsRepo(sql);
  const { raw, attachments } = store;
  const outbox = createOutboxRepo(sql);
  const suppressions = createSuppressionsRepo(sql);
  // R72: a refresh token the provider rotated outlives a restart (every node shares it).
  const refreshTokens = (s: OAuth2Settings): RefreshTokenStore => ({ load: () => meta.get(refreshTokenKey(s)), save: (t) => meta.set(refreshTokenKey(s), t) });
  const resolveDns = createDnsResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeout });
  const nodeId = opts.nodeId ?? makeNodeId();
  const leadership = createLeadership({ sql, meta, logger: opts.logger });
  // What this node leads besides the leader tasks (the daemon adds its IMAP accounts).
  let otherLeads: () => string[] = () => [];
  const leads = () => [...leadership.leads(), ...otherLeads()];
  const lease = createClaimLease({ nodeId, leaseMs: config.processing.claim_lease, clock, logger: opts.logger, nodes, intake, outbox, leads, rates: createRateCountersRepo(sql) });
  const sender = createOutboundSender({
    outbox, smarthost: config.outbound.smtp, dkim: config.outbound.dkim, logger: opts.logger, clock, lease, metrics,
    returnPath: config.outbound.return_path, secret, refreshTokens,
    retry: { initialMs: config.outbound.retry_initial, maxMs: config.outbound.retry_max, forMs: config.outbound.retry_for },
  });
  // The notifier fetches the current settings on every update, so a reload only swaps `current`.
  const notifierDeps: NotifierDeps = {
    tickets, outbox, suppressions, replyLine: config.email.reply_line, secret, logger: opts.logger,
    get directory() { return current.directory; },
    get triggers() { return current.triggers; },
    get planSettings() { return current.rules; },
    get baseUrl() { return current.config.base_url; },
    get ccsEnabled() { return current.rules.ccs.enabled; },
    get perRecipientPerHour() { return current.limits.perRecipientPerHour; },
    get perStaffPerHour() { return current.limits.perStaffPerHour; },
    onQueued: () => sender.kick(),
  };
  const notifier = createNotifier(notifierDeps);
  // PostgreSQL: big mail and attachments pass through this node's scratch files, never whole in memory.
  const scratchDir = store.backend === 'postgres' && !readOnly ? await freshScratchDir(config.data_dir, nodeId) : undefined;
  const parser = createMessageParser({ workers: opts.parseWorkers ?? config.processing.parse_workers, replyLine: config.email.reply_line, timeoutMs: config.processing.parse_timeout, maxMemoryMb: Math.floor(config.processing.parse_memory / 1024 ** 2),
    // SQLite's content store is files: the parser streams attachments straight into it (issue 15).
    ...(attachments instanceof AttachmentStore && !readOnly ? { attachmentsDir: attachments.dataDir } : {}),
    ...(scratchDir ? { scratchDir } : {}) });
  const ctx: PipelineContext = {
    sql, intake, tickets, outbox, suppressions, raw, attachments, parser,
    bounces: { returnPath: config.outbound.return_path, softBounceLimit: config.outbound.soft_bounce_limit },
    ...(scratchDir ? { scratchDir } : {}),
    get directory() { return current.directory; },
    get settings() { return current.rules; },
    get trust() { return current.trust; },
    get limits() { return current.limits; },
    secret,
    logger: opts.logger,
    clock,
    nodeId,
    notify: async (event, ticketId, now) => { await notifier.onUpdate(event, ticketId, now); },
    authenticate: (rawBytes, session) => authenticateMessage(rawBytes, { ...session, mta: config.smtp.hostname }, resolveDns, opts.logger.child({ stage: 'trust' })),
  };
  const syncStaff = (c: Config) => sql.tx(async () => { for (const a of c.agents) await tickets.ensureUser(a.email, a.name ?? null, { overwriteName: true }); });
  // Staff names come from the config; keep the users table in step so the CLI shows them.
  if (!readOnly && opts.syncStaff !== false) await syncStaff(config);
  const processor = createIntakeProcessor(ctx, { batchSize: config.processing.batch_size, batchBytes: config.processing.batch_bytes, metrics, lease, ...(opts.lanes ? { lanes: opts.lanes } : {}), ...(opts.txBudgetMs !== undefined ? { txBudgetMs: opts.txBudgetMs } : {}),
    ...(opts.writeGate?.side === 'processing' ? { gate: writeGate(opts.writeGate.memory, opts.writeGate.slot ?? 0) } : {}) });
  // Who hears of new intake: this app's processor, or (serve) the processing threads.
  base.onIntakeCommitted(() => processor.kick());
  return {
    sql, store, meta, leadership, intake, tickets, views, raw, ctx, processor, accept, outbox, suppressions, refreshTokens, sender, notifier, metrics, nodes, backlog,
    get config(): Config { return current.config; },
    get triggers(): Trigger[] { return current.triggers; },
    get automations(): Automation[] { return current.automations; },
    /**
     * SIGHUP: applies a new, already validated config: agents, support addresses, rules,
     * triggers, automations, limits, templates. Returns the keys that still need a restart.
     */
    async reload(next: Config): Promise<string[]> {
      const needRestart = keysNeedingRestart(current.config, next);
      current = settingsOf(next);
      await syncStaff(next);
      return needRestart;
    },
    /** R41: deletes suspended mail older than suspended.keep_days; returns how many. */
    async expireSuspended(now: Date = clock.now()): Promise<number> {
      const keepDays = current.config.suspended.keep_days;
      const before = new Date(now.getTime() - keepDays * 86_400_000).toISOString();
      let n = 0;
      for (const row of await intake.suspendedBefore(before)) {
        if (!(await intake.deleteSuspended(row.id, now.toISOString()))) continue;
        if (row.raw_path) await raw.remove(row.raw_path);
        n++;
      }
      if (n > 0) opts.logger.info({ event: 'suspended:expired', count: n, keep_days: keepDays }, 'expired suspended mail');
      // PostgreSQL: bytes of messages whose node died while they streamed in (no intake row names them).
      const swept = await store.blobs?.sweepIncomplete(new Date(now.getTime() - 86_400_000).toISOString());
      if (swept) opts.logger.info({ event: 'store:blobs_swept', count: swept }, 'removed the bytes of messages cut off by a crash');
      return n;
    },
    /** R52: one automation run at `now` (the daemon calls it every automations_interval). */
    runAutomations: (now: Date = clock.now()) => runAutomations(ctx, notifier, current.automations, now),
    supportAddressOf: (address: string) => supportAddressOf(ctx.directory, address)?.address,
    /** R5/R67: a support address, or a signed VERP return path (see composeIntake). */
    recipientOf: (address: string) => supportAddressOf(ctx.directory, address)?.address ?? (base.isReturnPath(address) ? address.toLowerCase() : undefined),
    isReturnPath: base.isReturnPath,
    /** This node's id and what it leads (R71): /healthz, the nodes table, deskgate stats. */
    node: () => ({ id: nodeId, leads: leads() }),
    reportLeads(fn: () => string[]): void { otherLeads = fn; },
    /** New intake wakes `fn` instead of this app's own processor (serve's processing threads). */
    onIntakeCommitted(fn: () => void): void { base.onIntakeCommitted(fn); },
    /** A processing thread restarted under its predecessor's id gives back what the dead one held. */
    async reclaimOwn(): Promise<number> {
      return sql.tx(async () => (await intake.releaseClaims(nodeId)) + (await outbox.releaseClaims(nodeId)));
    },
    async close(): Promise<void> {
      backlog.stop();
      await sender.stop();
      await parser.close();
      if (scratchDir) await removeScratchDir(scratchDir);
      lease.stop();
      await leadership.release();
      // A clean stop hands its claims back at once instead of letting them wait out the lease.
      if (lease.started) {
        await sql.tx(async () => { await intake.releaseClaims(nodeId); await outbox.releaseClaims(nodeId); await nodes.remove(nodeId); });
      }
      await store.close();
    },
  };
}

export type App = Awaited<ReturnType<typeof composeApp>>;
