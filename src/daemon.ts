import type { Config } from './config/index.js';
import { composeApp, type App } from './compose.js';
import { startSmtpListener, type SmtpListener, type SmtpListenerOptions } from './ingest/index.js';
import { ImapPoller } from './ingest/imap-poller.js';
import { createImapStateRepo } from './store/index.js';
import { parseIpList, matchesIp } from './shared/ip-list.js';
import { startHealthServer } from './ops/health-server.js';
import type { Logger } from './shared/logger.js';
import type { Clock } from './shared/clock.js';
import { DeskgateError } from './shared/errors.js';
import { startProcessingThreads, type ProcessingThreads } from './processing/threads.js';
import { startLeaderTicks } from './processing/leader-ticks.js';
import { newWriteGateMemory } from './shared/write-gate.js';

export interface Daemon {
  app: App;
  /** serve's processing threads (processing.workers); undefined when processing runs on this loop (workers: 0). */
  processing: ProcessingThreads | undefined;
  smtp: SmtpListener;
  /** R73: the LMTP listener, when lmtp: is configured. */
  lmtp: SmtpListener | undefined;
  pollers: ImapPoller[];
  /** The bound port of metrics.listen, when set. */
  metricsPort: number | undefined;
  /** Graceful stop: sessions in DATA finish (others get 421), commits finish, then close. */
  stop(): Promise<void>;
}

/**
 * What `deskgate serve` runs: the SMTP listener, IMAP pollers and health server on this event
 * loop, which only receives mail and commits it to intake; processing (and sending, and the
 * leader tasks) in processing.workers threads, or on this loop when workers is 0.
 */
export async function startDaemon(config: Config, opts: { logger: Logger; clock?: Clock; parseWorkers?: number; closeTimeoutMs?: number }): Promise<Daemon> {
  const threads = config.processing.workers > 0;
  // SQLite's one write lock: the processing threads let the listener's intake commits go first.
  const gate = threads && config.store.backend === 'sqlite' ? newWriteGateMemory(config.processing.workers) : undefined;
  const app = await composeApp(config, { ...opts, listener: threads, ...(gate ? { writeGate: { memory: gate, side: 'listener' as const } } : {}) });
  await app.backlog.start();
  app.metrics.setBacklogSource(() => app.backlog);
  let processing: ProcessingThreads | undefined;
  if (config.processing.workers > 0) {
    // A fake clock (tests) cannot cross into a thread: processing with one runs here.
    if (opts.clock) throw new DeskgateError('CONFIG_INVALID', 'a daemon with its own clock processes on its own loop (processing.workers: 0)');
    try {
      processing = await startProcessingThreads(config, { nodeId: app.ctx.nodeId, logger: opts.logger, ...(opts.parseWorkers !== undefined ? { parseWorkers: opts.parseWorkers } : {}), ...(gate ? { writeGate: gate } : {}) });
    } catch (err) {
      await app.close();
      throw err;
    }
    app.onIntakeCommitted(() => processing!.kick());
    app.metrics.addSource(() => processing!.snapshots());
  }
  const allow = parseIpList(config.smtp.client_allowlist);
  const deny = parseIpList(config.smtp.client_denylist);
  const common = listenerOptions(config, app, opts.closeTimeoutMs);
  let smtp: SmtpListener;
  let lmtp: SmtpListener | undefined;
  try {
    smtp = await startSmtpListener({
      ...common,
      listen: config.smtp.listen,
      tls: config.smtp.tls,
      maxClients: config.smtp.max_clients,
      isAllowlisted: (ip) => matchesIp(allow, ip),
      isDenylisted: (ip) => matchesIp(deny, ip),
    }, app.accept, opts.logger);
    // R73: the MTA on this host; it is the only client, so it is trusted like the allowlist.
    if (config.lmtp) {
      lmtp = await startSmtpListener({
        ...common, lmtp: true, listen: config.lmtp.listen, maxClients: config.lmtp.max_clients, isAllowlisted: () => true, isDenylisted: () => false,
      }, app.accept, opts.logger).catch(async (err: unknown) => { await smtp.close(); throw err; });
    }
  } catch (err) {
    await processing?.stop();
    await app.close();
    throw err;
  }
  const ticks = processing ? undefined : startInline(app, opts.logger);
  let stopped = false;
  // Made before the health server, whose /healthz reads their token state; started below.
  const imapState = createImapStateRepo(app.sql);
  const pollers = config.imap.map((account) => new ImapPoller(account, {
    accept: app.accept, recipientOf: app.recipientOf, refreshTokens: app.refreshTokens, state: imapState, logger: opts.logger, clock: app.ctx.clock,
    // Polled mail that names no support address was sent to the account's own address (R1).
    defaultRecipient: (account.address && app.supportAddressOf(account.address)) ?? app.supportAddressOf(account.user) ?? config.support_addresses[0]!.address,
    // R71: one node polls each account; the others stand by and take over when it dies.
    lock: (name) => app.sql.tryLock(name),
    backlogFull: () => app.backlog.full,
    metrics: app.metrics,
  }));
  const health = config.metrics ? await startHealthServer(config.metrics.listen, app.metrics, {
    check: async () => ({
      smtp: !stopped && smtp.addresses().length > 0 && (!lmtp || lmtp.addresses().length + lmtp.sockets().length > 0),
      database: await app.sql.value('SELECT 1').then((v) => v === 1, () => false),
      queue: !stopped,
    }),
    // R72: the IMAP logins' tokens (state, expiry, last error), when any account uses oauth2.
    info: () => {
      const oauth2 = pollers.flatMap((p) => (p.tokenStatus ? [{ login: `imap:${p.accountName}`, ...p.tokenStatus }] : []));
      return { node: app.node(), ...(oauth2.length > 0 ? { oauth2 } : {}) };
    },
  }) : undefined;
  app.metrics.setQueueSource(async () => {
    const depth = await app.outbox.depth();
    return {
      intake: await app.intake.pendingCount(),
      outbox: (depth.queued ?? 0) + (depth.deferred ?? 0),
      suspended: (await app.intake.countByStatus()).suspended ?? 0,
    };
  });
  const imapLeads = () => pollers.filter((p) => p.polling).map((p) => `imap:${p.accountName}`);
  app.reportLeads(() => [...(processing?.leads() ?? []), ...imapLeads()]);
  // Thread 0 writes what this node leads with its heartbeat; the pollers live here.
  const leadsTimer = processing ? setInterval(() => processing!.setImapLeads(imapLeads()), 1000) : undefined;
  leadsTimer?.unref();
  for (const p of pollers) p.start();
  let stopping: Promise<void> | undefined;
  return {
    app,
    processing,
    smtp,
    lmtp,
    pollers,
    metricsPort: health?.port,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        if (leadsTimer) clearInterval(leadsTimer);
        await health?.close();
        await Promise.all(pollers.map((p) => p.stop()));
        await Promise.all([smtp.close(), lmtp?.close()]);
        await ticks?.stop();
        await processing?.stop();
        await app.processor.stop();
        await app.close(); // stops the sender after the last batch has queued its mail
      })();
      return stopping;
    },
  };
}

/** What the SMTP and LMTP listeners share: one config, one accept path. */
function listenerOptions(config: Config, app: App, closeTimeoutMs: number | undefined): Omit<SmtpListenerOptions, 'listen' | 'maxClients' | 'isAllowlisted' | 'isDenylisted'> {
  return {
    hostname: config.smtp.hostname,
    maxMessageSize: config.smtp.max_message_size,
    maxRecipients: config.smtp.max_recipients,
    socketTimeoutMs: config.smtp.socket_timeout,
    reverseLookup: config.smtp.reverse_lookup,
    recipientOf: app.recipientOf,
    closeTimeoutMs: closeTimeoutMs ?? config.smtp.close_timeout,
    metrics: app.metrics,
    maxHeaderSize: config.smtp.max_header_size,
    maxSessionsPerIp: config.smtp.max_sessions_per_ip,
    // R43: the first N are processed, the next N suspended (pipeline), the rest refused here.
    refuseAfterPerHour: () => 2 * app.config.limits.per_sender_per_hour,
    isReturnPath: app.isReturnPath,
    backlogFull: () => app.backlog.full,
    limits: {
      sessionTimeoutMs: config.smtp.session_timeout,
      dataTimeoutMs: config.smtp.data_timeout,
      dataMinRate: config.smtp.data_min_rate,
      junkCommandLimit: config.smtp.junk_command_limit,
    },
  };
}

/** processing.workers: 0: the processor, sender and leader tasks on this loop (tests, small installs). */
function startInline(app: App, logger: Logger): { stop(): Promise<void> } {
  app.processor.start();
  app.sender.start();
  return startLeaderTicks(app, logger);
}
