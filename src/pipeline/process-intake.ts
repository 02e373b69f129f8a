import { DeskgateError, errorMessage, errorCode as sharedErrorCode } from '../shared/errors.js';
import type { NodeLease } from '../shared/node-id.js';
import { createWaker } from '../shared/waker.js';
import { stat, rm } from 'node:fs/promises';
import { writeScratch } from '../store/scratch.js';
import { byteBatches, sourceStream, type MessageSource, type ParsedMessage } from '../parse/index.js';
import type { AuthOutcome } from '../trust/index.js';
import type { Metrics } from '../shared/metrics.js';
import type { WriteGate } from '../shared/write-gate.js';
import { isTransientStoreError, type IntakeRow, type LaneFilter } from '../store/index.js';
import type { PipelineContext } from './context.js';
import { decide, automatedOf } from './decide.js';
import { handleBounce, releasedEnvelope, type BounceHandled } from './bounce.js';
import { applyDecision } from './apply-decision.js';

/** Messages read and parsed at once: parser threads queue the rest anyway, and the pool stays free. */
const PREPARE_AT_ONCE = 8;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i]!); } };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** See processPart: the shortest write transaction that gives way to the listener's intake commit. */
const MIN_HOLD_MS = 8;

/** Mail over this size (raw bytes) is processed alone, after the smaller mail waiting (see IntakeRepo.claim). */
const BIG_MESSAGE = 1024 * 1024;

export interface Outcome {
  intakeId: number;
  status: 'done' | 'failed' | 'suspended';
  ticketId?: number;
  commentId?: number;
  error?: string;
  /** The stable code of a failure (R8), as `failed list` shows it. */
  code?: string;
  /** R67: the message was a bounce, matched to its notification or suspended as unmatched. */
  bounce?: 'matched' | 'unmatched';
  created?: boolean;
  visibility?: 'public' | 'private';
}

/** The stable code of a failure: a DeskgateError's own, a driver's (SQLITE_BUSY, ENOENT), else PIPELINE_ERROR. */
const errorCode = (err: unknown): string => sharedErrorCode(err, 'PIPELINE_ERROR');

/**
 * The processing stage behind intake: claims received messages, parses them (in worker
 * threads), then threads, decides and stores each in its own savepoint, so one bad message is
 * recorded as failed (R8) without holding up the rest of the batch.
 */
export function createIntakeProcessor(ctx: PipelineContext, opts: {
  batchSize: number; batchBytes?: number; pollMs?: number; metrics?: Metrics; lease: NodeLease;
  /** processing.workers > 1: the lanes this worker takes (see thread/lane.ts). */
  lanes?: LaneFilter;
  /**
   * SQLite beside serve's listener: a batch commits after this long and goes on in a new
   * transaction, so the listener's intake commits never wait long for the one write lock.
   */
  txBudgetMs?: number;
  /** serve on SQLite: intake commits go first (shared/write-gate.ts). */
  gate?: Pick<WriteGate, 'wanted' | 'acquire' | 'release'>;
}) {
  const log = ctx.logger.child({ stage: 'pipeline' });
  let running = false;
  const waker = createWaker();
  let loop: Promise<void> | undefined;

  /** A write (transaction or statement) that holds the SQLite lock only while no intake commit waits for it. */
  async function gated<T>(write: () => Promise<T>): Promise<T> {
    if (!opts.gate) return write();
    await opts.gate.acquire();
    try {
      return await write();
    } finally {
      opts.gate.release();
    }
  }

  /**
   * The message as the parser and the checks read it: a spool file is streamed by them, never
   * read whole here (issue 15); on PostgreSQL a big message is streamed from the database into a
   * scratch file first (issue 14), named in `scratch` for the caller to remove; small bytes in
   * the database are read.
   */
  async function sourceOf(row: IntakeRow, scratch: string[]): Promise<MessageSource> {
    const path = row.raw_path ? ctx.raw.localPath(row.raw_path) : undefined;
    if (path) return { path, size: (await stat(path)).size }; // a missing file fails here, as a read did
    if (row.raw_path && ctx.scratchDir && row.raw_size > BIG_MESSAGE) {
      const file = await writeScratch(ctx.scratchDir, `raw-${row.id}`, ctx.raw.stream(row.raw_path));
      scratch.push(file);
      return { path: file, size: (await stat(file)).size };
    }
    if (row.raw_path) return ctx.raw.read(row.raw_path);
    const bytes = await ctx.intake.rawBytes(row.id);
    if (!bytes) throw new DeskgateError('STORE_RAW_MISSING', `raw bytes of intake ${row.id} are missing`);
    return bytes;
  }

  /** Content-addressed and idempotent, so safe before the transaction commits. */
  async function storeAttachments(parsed: ParsedMessage, scratch: string[]): Promise<void> {
    for (const a of parsed.attachments) if (a.file) scratch.push(a.file);
    // One at a time per message: on PostgreSQL each is a transaction of its own on the pool.
    // (On SQLite the parser streamed them into the store already and sends no bytes.)
    for (const a of parsed.attachments) {
      if (a.content) await ctx.attachments.put(a.sha256, a.content);
      else if (a.file) await ctx.attachments.putFile!(a.sha256, a.file);
      delete a.file;
    }
  }

  interface Prepared { parsed: ParsedMessage; auth: AuthOutcome | null }

  /** The async part of processing: MIME parse (worker thread) and, for SMTP mail, authentication (DNS). */
  async function prepare(row: IntakeRow): Promise<Prepared | Error> {
    const scratch: string[] = [];
    try {
      const replyHint = row.envelope_to.some((a) => a.includes('+'));
      const source = await sourceOf(row, scratch);
      const needsAuth = ctx.trust.verify && row.via === 'smtp' && !row.skip_checks.includes('unverified_agent');
      // R44: the inputs are the session's (IP, HELO, MAIL FROM, kept in the intake row) and the
      // raw bytes, so checking here gives what checking in the session would, without making the
      // 250 wait on DNS.
      const [parsed, auth] = await Promise.all([
        ctx.parser.parse(source, { replyHint }),
        needsAuth ? ctx.authenticate(sourceStream(source), { ip: row.remote_ip, helo: row.helo, sender: row.envelope_from, messageId: row.message_id }) : Promise.resolve(null),
      ]);
      // R61: HTML reduced to text or converted in part is logged here, not printed by the converter.
      if (parsed.notes.length) log.warn({ event: 'parse:html_limited', intake_id: row.id, message_id: parsed.messageId, flags: parsed.flags, notes: parsed.notes }, 'HTML body past the converter limits: simplified or truncated');
      await storeAttachments(parsed, scratch);
      return { parsed, auth };
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      await Promise.all(scratch.map((f) => rm(f, { force: true })));
    }
  }

  /**
   * R71: the outcome was written only if this node still held the claim; a node too slow to renew
   * its lease lost the message to another, so nothing of it may be stored (the batch rolls back).
   */
  function fenced(stillClaimed: boolean, row: IntakeRow): void {
    if (!stillClaimed) throw new DeskgateError('STORE_CLAIM_LOST', `intake ${row.id} was taken over by another node; this batch is not stored`, { context: { intake_id: row.id } });
  }

  async function handle(row: IntakeRow, prepared: Prepared | Error, now: string): Promise<Outcome> {
    if (prepared instanceof Error) {
      // A database that could not give the raw bytes or take the attachments is no fault of the message (R8).
      if (isTransientStoreError(prepared)) throw prepared;
      fenced(await ctx.intake.markFailed(row.id, ctx.nodeId, errorCode(prepared), errorMessage(prepared), now), row);
      return { intakeId: row.id, status: 'failed', code: errorCode(prepared), error: prepared.message };
    }
    const { parsed } = prepared;
    try {
      // A savepoint: one message that fails rolls back alone, the rest of the batch stays.
      return await ctx.sql.tx(async (): Promise<Outcome> => {
        const bounced = await handleBounce(ctx, row, parsed, automatedOf(row, parsed), now);
        if (bounced && bounced.kind !== 'mail') return bounceOutcome(row, parsed, bounced, now);
        const to = bounced?.envelopeTo ?? releasedEnvelope(ctx, row);
        const mail = to ? { ...row, envelope_to: to } : row;
        const { decision: d, auth, automated } = await decide(ctx, mail, parsed, prepared.auth);
        if (d.action === 'suspend') {
          // R41: held, never dropped.
          fenced(await ctx.intake.markSuspended(row.id, ctx.nodeId, d.reason, now, { from: parsed.from[0]?.address ?? row.envelope_from, subject: parsed.subject }), row);
          log.info({ event: 'pipeline:suspended', message_id: parsed.messageId, intake_id: row.id, decision: `suspend:${d.reason}`, rules: d.rules }, 'message suspended');
          return { intakeId: row.id, status: 'suspended', error: d.reason };
        }
        const applied = await applyDecision(ctx, row, parsed, d, now, auth ? { ...auth } : null);
        // R42: a robot's address is never sent a notification.
        if (automated) await ctx.tickets.markRobot(d.comment.author.address);
        // R68: whoever writes to us is reachable again.
        else if (await ctx.suppressions.remove(d.comment.author.address)) log.info({ event: 'suppression:removed', address: d.comment.author.address, intake_id: row.id, rule: 'R68' }, 'suppressed address wrote in: removed from the suppression list');
        fenced(await ctx.intake.markDone(row.id, ctx.nodeId, applied.ticketId, applied.commentId, now), row);
        log.info({
          event: 'pipeline:stored', message_id: parsed.messageId, intake_id: row.id, ticket_id: applied.ticketId, comment_id: applied.commentId,
          decision: d.action, public: d.comment.public, visibility_rule: d.comment.visibilityRule, rules: d.rules,
        }, 'message stored');
        return { intakeId: row.id, status: 'done', ...applied, created: d.action === 'create_ticket', visibility: d.comment.public ? 'public' : 'private' };
      });
    } catch (err) {
      // A busy or locked database is no fault of the message (R8): the batch fails and is
      // handed back to the queue instead of the message being kept as failed.
      if (isTransientStoreError(err)) throw err;
      fenced(await ctx.intake.markFailed(row.id, ctx.nodeId, errorCode(err), errorMessage(err), now), row);
      return { intakeId: row.id, status: 'failed', code: errorCode(err), error: errorMessage(err) };
    }
  }

  /** R67: a bounce is never a comment: matched, it is done (on its notification's ticket); else suspended. */
  async function bounceOutcome(row: IntakeRow, parsed: ParsedMessage, b: Exclude<BounceHandled, { kind: 'mail' }>, now: string): Promise<Outcome> {
    if (b.kind === 'unmatched') {
      fenced(await ctx.intake.markSuspended(row.id, ctx.nodeId, 'unmatched_bounce', now, { from: parsed.from[0]?.address ?? row.envelope_from, subject: parsed.subject }), row);
      log.info({ event: 'pipeline:suspended', message_id: parsed.messageId, intake_id: row.id, decision: 'suspend:unmatched_bounce', form: b.form, rules: ['R67'] }, 'bounce of nothing sent here: suspended');
      return { intakeId: row.id, status: 'suspended', error: 'unmatched_bounce', bounce: 'unmatched' };
    }
    fenced(await ctx.intake.markDone(row.id, ctx.nodeId, b.ticketId, null, now), row);
    log.info({
      event: 'pipeline:bounce', message_id: parsed.messageId, intake_id: row.id, ticket_id: b.ticketId, outbox_id: b.outboxId, form: b.form, matched_by: b.by,
      recipients: b.plan.effects.map((e) => ({ address: e.address ?? e.reported, kind: e.kind, status: e.status, suppressed: e.suppressed })), rules: ['R67', 'R68'],
    }, 'bounce recorded on its notification');
    return { intakeId: row.id, status: 'done', ticketId: b.ticketId, bounce: 'matched' };
  }

  /**
   * A claimed batch is read, parsed and stored in parts of at most batchBytes raw bytes: each
   * part's bytes and parse results are held until its transaction, so 64 × 20 MB never sit in
   * memory at once (issue 13.2).
   */
  async function processRows(rows: IntakeRow[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const part of byteBatches(rows, (r) => r.raw_size, opts.batchBytes ?? Infinity)) outcomes.push(...(await processPart(part)));
    return outcomes;
  }

  async function processPart(rows: IntakeRow[]): Promise<Outcome[]> {
    const parsed = await mapLimit(rows, PREPARE_AT_ONCE, prepare);
    const now = ctx.clock.now().toISOString();
    // One write transaction for the part (SQLite: IMMEDIATE, so the busy timeout waits for a CLI
    // writer at BEGIN rather than failing at the first write), or several of at most txBudgetMs.
    const outcomes: Outcome[] = [];
    const budget = opts.txBudgetMs ?? Infinity;
    // A transaction gives way to a waiting intake commit only after MIN_HOLD_MS: yielding after
    // every message would make one commit (one fsync) per message under a steady SMTP load.
    const more = (started: number) => Date.now() - started < budget && !(opts.gate?.wanted() && Date.now() - started >= MIN_HOLD_MS);
    while (outcomes.length < rows.length) {
      outcomes.push(...(await gated(() => {
        const started = Date.now();
        return ctx.sql.tx(async () => {
          const out: Outcome[] = [];
          for (let i = outcomes.length; i < rows.length && (out.length === 0 || more(started)); i++) out.push(await handle(rows[i]!, parsed[i]!, now));
          return out;
        });
      })));
    }
    const m = opts.metrics;
    if (m) {
      for (const [i, o] of outcomes.entries()) {
        m.processed.inc({ outcome: o.status });
        if (o.status === 'done') m.intakeLatency.observe((Date.parse(now) - Date.parse(rows[i]!.received_at)) / 1000);
        if (o.created) m.ticketsCreated.inc();
        if (o.visibility) m.comments.inc({ visibility: o.visibility });
        if (o.bounce) m.bounces.inc({ result: o.bounce });
      }
    }
    for (const o of outcomes) {
      if (o.status === 'failed') log.warn({ event: 'pipeline:failed', intake_id: o.intakeId, message_id: rows.find((r) => r.id === o.intakeId)?.message_id, decision: 'failed', code: o.code, error: o.error }, 'message kept as failed (R8)');
    }
    return outcomes;
  }

  /** Claims hold while this process's heartbeat is fresh: renew it first (see NodeLease). */
  async function claim(limit: number): Promise<IntakeRow[]> {
    await opts.lease.renew();
    return ctx.intake.claim(ctx.nodeId, limit, ctx.clock.now().toISOString(), BIG_MESSAGE, opts.lanes);
  }

  // Rows of a failed batch that could not be given back yet (the database was down): this node
  // is alive, so no other node takes them back; it gives them back itself as soon as it can.
  const unreleased = new Set<number>();
  async function releaseLeftovers(): Promise<void> {
    if (unreleased.size === 0) return;
    await ctx.intake.releaseRows(ctx.nodeId, [...unreleased]);
    log.info({ event: 'pipeline:claims_released', count: unreleased.size }, 'gave back the claims of a batch the database failed');
    unreleased.clear();
  }

  /** A batch that could not be stored (database error) goes back to the queue, not stuck under a live claim. */
  async function processClaimed(rows: IntakeRow[]): Promise<Outcome[]> {
    try {
      return await processRows(rows);
    } catch (err) {
      for (const r of rows) unreleased.add(r.id);
      await releaseLeftovers().catch(() => { /* the database is down: the next step tries again */ });
      throw err;
    }
  }

  let bigInFlight: Promise<void> | null = null;

  /**
   * One turn of the daemon's loop, in two lanes: small mail in batches, awaited; a big message
   * (over BIG_MESSAGE) alone and in the background, one at a time, so the small mail behind it
   * keeps flowing while it parses (on another parser thread, see processing.parse_workers).
   */
  async function step(): Promise<number> {
    await releaseLeftovers();
    await opts.lease.renew();
    const now = ctx.clock.now().toISOString();
    const small = await gated(() => ctx.intake.claimSmall(ctx.nodeId, opts.batchSize, now, BIG_MESSAGE, opts.lanes)); // the claim is a write too
    if (small.length > 0) {
      await processClaimed(small);
      return small.length;
    }
    if (bigInFlight) return 0;
    const big = await gated(() => ctx.intake.claimBig(ctx.nodeId, now, BIG_MESSAGE, opts.lanes));
    if (big.length === 0) return 0;
    bigInFlight = processClaimed(big)
      .then(() => undefined, async (err: unknown) => {
        log.error({ event: 'pipeline:error', code: errorCode(err), err, intake_id: big[0]!.id }, 'processing a big message failed; it is back in the queue');
        await new Promise((r) => setTimeout(r, 1000)); // no hot loop on a failing database
      })
      .finally(() => { bigInFlight = null; waker.wake(); });
    return 1;
  }

  return {
    /** Processes one batch of waiting messages; returns how many it took. */
    async processBatch(): Promise<number> {
      const rows = await claim(opts.batchSize);
      if (rows.length > 0) await processClaimed(rows);
      return rows.length;
    },
    /** Processes until the queue is empty (pipe intake and tests). */
    async drain(): Promise<Outcome[]> {
      const all: Outcome[] = [];
      for (;;) {
        const rows = await claim(opts.batchSize);
        if (rows.length === 0) return all;
        all.push(...(await processClaimed(rows)));
      }
    },
    /** Processes one given message now, if nobody else holds it; undefined when it was not claimable. */
    async processOne(intakeId: number): Promise<Outcome | undefined> {
      await opts.lease.renew();
      const row = await ctx.intake.claimOne(intakeId, ctx.nodeId, ctx.clock.now().toISOString());
      if (!row) return undefined;
      return (await processClaimed([row]))[0];
    },
    /** Wakes the loop at once (called after each intake commit). */
    kick(): void {
      waker.wake();
    },
    start(): void {
      if (running) return;
      running = true;
      void opts.lease.renew(); // heartbeat from the start, so claims left by a dead process come back (see composeApp)
      loop = (async () => {
        let failures = 0;
        while (running) {
          let n = 0;
          try {
            n = await step();
            failures = 0;
          } catch (err) {
            // The batch's claims are back in the queue (processClaimed); a busy or failing
            // database is retried with back-off, 0.25 s doubling up to 30 s.
            failures++;
            const retryMs = Math.min(30_000, 250 * 2 ** Math.min(failures - 1, 7));
            log.error({ event: 'pipeline:error', code: errorCode(err), err, retry_in_ms: retryMs, failures }, 'processing batch failed; retrying');
            if (running) await waker.sleep(retryMs);
            continue;
          }
          if (n === 0 && running) await waker.sleep(opts.pollMs ?? 1000);
        }
        await bigInFlight;
      })();
    },
    /** Finishes the batch in hand, then stops. */
    async stop(): Promise<void> {
      running = false;
      waker.wake();
      await loop;
    },
  };
}

export type IntakeProcessor = ReturnType<typeof createIntakeProcessor>;
