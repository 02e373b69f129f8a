import { randomBytes } from 'node:crypto';
import type { Config } from './config/index.js';
import { resolveSecret } from './config/index.js';
import { openStore, createMetaRepo, createIntakeRepo, createIntakeWriter, createTicketsRepo, createNodesRepo, type Store } from './store/index.js';
import { createLaneAssigner } from './pipeline/lanes.js';
import { createBacklogGate } from './ingest/backlog.js';
import { createAcceptMessage } from './ingest/accept-message.js'; // not ingest/index.js: that one loads smtp-server
import { createDirectory, supportAddressOf } from './rules/people.js';
import { verpOutboxId } from './shared/verp.js';
import type { Metrics } from './shared/metrics.js';
import { writeGate } from './shared/write-gate.js';
import type { Clock } from './shared/clock.js';
import type { Logger } from './shared/logger.js';

/**
 * SQLite, serve's listener: each wait for the write lock blocks the loop at most this long
 * (long enough for a processing transaction, ~25 ms, to end, so the listener's other writes, IMAP
 * positions and counts, do not fail under load) …
 */
const LISTENER_BUSY_MS = 100;
/** … and a commit gives up (451 4.3.0) after this long in all. */
const LISTENER_LOCK_WAIT_MS = 1000;

export interface IntakeOptions {
  logger: Logger;
  clock: Clock;
  readOnly?: boolean;
  metrics?: Metrics;
  /**
   * This loop serves SMTP while threads process (serve): SQLite lock waits are short and retried
   * off the loop (intake-writer lockWaitMs).
   */
  listener?: boolean;
  /** serve on SQLite: the memory its processing threads watch to let intake commits go first. */
  writeGate?: SharedArrayBuffer;
}

/**
 * The intake half of the composition: the store, the durable accept path (R6) with its group
 * commit, the backlog gate and the reply-token key. It is all `deskgate inject` loads when a
 * daemon processes its message (no parser, rules, triggers or sender: issue 15), and what
 * composeApp builds on.
 */
export async function composeIntake(config: Config, opts: IntakeOptions) {
  const readOnly = opts.readOnly ?? false;
  const store: Store = await openStore(config, { readOnly, logger: opts.logger });
  const { sql, raw } = store;
  const intake = createIntakeRepo(sql);
  const meta = createMetaRepo(sql);
  // Read-only without a key yet: no token was ever signed, so a throwaway key matches none.
  const secret = (await sharedSecret(config, store.backend, meta, readOnly)) ?? randomBytes(32).toString('hex');
  if (opts.listener && store.sqlite) {
    // SQLite's busy wait runs on the caller's loop: the listener's is kept short (issue 15).
    store.sqlite.pragma(`busy_timeout = ${LISTENER_BUSY_MS}`);
    // A WAL checkpoint runs in the commit that crosses its threshold, on that connection's thread:
    // the processing threads' connections do them (SQLite's default, 1000 pages), never the listener's.
    store.sqlite.pragma('wal_autocheckpoint = 0');
  }
  const backlog = createBacklogGate({ pending: () => intake.pendingCount(), highWater: config.processing.backlog_high_water, logger: opts.logger });
  let kick = (): void => {};
  const writer = createIntakeWriter({
    sql, intake, raw, onCommitted: (added) => { backlog.committed(added); kick(); },
    ...(opts.listener && store.sqlite ? { lockWaitMs: LISTENER_LOCK_WAIT_MS } : {}),
    ...(opts.writeGate ? { gate: writeGate(opts.writeGate) } : {}),
  });
  const lane = config.processing.workers > 1 ? createLaneAssigner({ tickets: createTicketsRepo(sql), secret }) : undefined;
  const accept = createAcceptMessage({ raw, writer, intake, maxSize: config.smtp.max_message_size, now: () => opts.clock.now(), ...(opts.metrics ? { metrics: opts.metrics } : {}), ...(lane ? { lane } : {}) });
  const directory = createDirectory(config.support_addresses, []);
  const returnPath = config.outbound.return_path;
  const isReturnPath = (address: string) => returnPath !== undefined && verpOutboxId(address, returnPath, secret) !== undefined;
  const nodes = createNodesRepo(sql);
  return {
    store, sql, intake, meta, secret, backlog, writer, accept, nodes,
    /** R1/R5: the configured support address an address stands for. */
    supportAddressOf: (address: string) => supportAddressOf(directory, address)?.address,
    /**
     * R5/R67: what a recipient is accepted as: its support address, or a VERP return path in
     * its signed form (itself); undefined for anyone else. The unsigned return path is refused.
     */
    recipientOf: (address: string) => supportAddressOf(directory, address)?.address
      ?? (isReturnPath(address) ? address.toLowerCase() : undefined),
    isReturnPath,
    /** Who hears of new intake (the processor, or serve's processing threads). */
    onIntakeCommitted(fn: () => void): void { kick = fn; },
    /** Whether a `deskgate serve` processes this store now: a heartbeat within the claim lease (R71). */
    async daemonRunning(): Promise<boolean> {
      const staleBefore = new Date(opts.clock.now().getTime() - config.processing.claim_lease).toISOString();
      return (await nodes.liveIds(staleBefore)).size > 0;
    },
  };
}

export type Intake = Awaited<ReturnType<typeof composeIntake>>;

/**
 * The reply-token key (R11): the config's, else one kept where every node finds it. SQLite keeps
 * it in data_dir/secret (the backup copies it); PostgreSQL in the database, so two nodes sign
 * and verify with the same key. A key file from a copied SQLite deployment is taken over.
 */
async function sharedSecret(config: Config, backend: 'sqlite' | 'postgres', meta: ReturnType<typeof createMetaRepo>, readOnly: boolean): Promise<string | null> {
  if (config.secret || backend === 'sqlite') return resolveSecret(config, { create: !readOnly });
  const stored = await meta.get('secret');
  if (stored || readOnly) return stored ?? null;
  return meta.getOrCreate('secret', resolveSecret(config, { create: false }) ?? randomBytes(32).toString('hex'));
}
