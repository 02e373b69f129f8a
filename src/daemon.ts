import type { Config } from './config/index.js';
import { composeApp, type App } from './compose.js';
import { startSmtpListener, type SmtpListener } from './ingest/index.js';
import { ImapPoller } from './ingest/imap-poller.js';
import { createImapStateRepo } from './store/index.js';
import { parseIpList, matchesIp } from './shared/ip-list.js';
import { startHealthServer } from './ops/health-server.js';
import type { Logger } from './shared/logger.js';
import type { Clock } from './shared/clock.js';

export interface Daemon {
  app: App;
  smtp: SmtpListener;
  pollers: ImapPoller[];
  /** The bound port of metrics.listen, when set. */
  metricsPort: number | undefined;
  /** Graceful stop: sessions in DATA finish (others get 421), commits finish, then close. */
  stop(): Promise<void>;
}

/** What `deskgate serve` runs: SMTP listener + processing loop over one database. */
export async function startDaemon(config: Config, opts: { logger: Logger; clock?: Clock; parseWorkers?: number; closeTimeoutMs?: number }): Promise<Daemon> {
  const app = await composeApp(config, opts);
  const allow = parseIpList(config.smtp.client_allowlist);
  const deny = parseIpList(config.smtp.client_denylist);
  let smtp: SmtpListener;
  try {
    smtp = await startSmtpListener({
      listen: config.smtp.listen,
      hostname: config.smtp.hostname,
      maxMessageSize: config.smtp.max_message_size,
      maxClients: config.smtp.max_clients,
      maxRecipients: config.smtp.max_recipients,
      socketTimeoutMs: config.smtp.socket_timeout,
      reverseLookup: config.smtp.reverse_lookup,
      tls: config.smtp.tls,
      supportAddressOf: app.supportAddressOf,
      closeTimeoutMs: opts.closeTimeoutMs ?? config.smtp.close_timeout,
      metrics: app.metrics,
      maxHeaderSize: config.smtp.max_header_size,
      maxSessionsPerIp: config.smtp.max_sessions_per_ip,
      // R43: the first N are processed, the next N suspended (pipeline), the rest refused here.
      refuseAfterPerHour: () => 2 * app.config.limits.per_sender_per_hour,
      isAllowlisted: (ip) => matchesIp(allow, ip),
      isDenylisted: (ip) => matchesIp(deny, ip),
      limits: {
        sessionTimeoutMs: config.smtp.session_timeout,
        dataTimeoutMs: config.smtp.data_timeout,
        dataMinRate: config.smtp.data_min_rate,
        junkCommandLimit: config.smtp.junk_command_limit,
      },
    }, app.accept, opts.logger);
  } catch (err) {
    await app.close();
    throw err;
  }
  app.processor.start();
  app.sender.start();
  let stopped = false;
  const health = config.metrics ? await startHealthServer(config.metrics.listen, app.metrics, {
    check: async () => ({
      smtp: !stopped && smtp.addresses().length > 0,
      database: await app.sql.value('SELECT 1').then((v) => v === 1, () => false),
      queue: !stopped,
    }),
    info: () => ({ node: app.node() }),
  }) : undefined;
  app.metrics.setQueueSource(async () => {
    const depth = await app.outbox.depth();
    return {
      intake: await app.intake.pendingCount(),
      outbox: (depth.queued ?? 0) + (depth.deferred ?? 0),
      suspended: (await app.intake.countByStatus()).suspended ?? 0,
    };
  });
  const imapState = createImapStateRepo(app.sql);
  const pollers = config.imap.map((account) => new ImapPoller(account, {
    accept: app.accept, supportAddressOf: app.supportAddressOf, state: imapState, logger: opts.logger, clock: app.ctx.clock,
    // Polled mail that names no support address was sent to the account's own address (R1).
    defaultRecipient: (account.address && app.supportAddressOf(account.address)) ?? app.supportAddressOf(account.user) ?? config.support_addresses[0]!.address,
    // R71: one node polls each account; the others stand by and take over when it dies.
    lock: (name) => app.sql.tryLock(name),
  }));
  app.reportLeads(() => pollers.filter((p) => p.polling).map((p) => `imap:${p.accountName}`));
  for (const p of pollers) p.start();
  // R52, R41: automations and suspended-mail expiry every automations_interval, first one interval
  // after start; with several nodes only the leader runs them, once per interval (R71).
  const interval = config.automations_interval;
  let ticking = false;
  const tick = async () => {
    if (ticking) return; // a long run is not overlapped by the next tick
    ticking = true;
    try {
      const now = app.ctx.clock.now();
      await app.leadership.runIfDue('automations', now, interval, () => app.runAutomations(now))
        .catch((err: unknown) => opts.logger.error({ event: 'automations:error', err }, 'automation run failed'));
      await app.leadership.runIfDue('suspended-expiry', now, interval, () => app.expireSuspended(now))
        .catch((err: unknown) => opts.logger.error({ event: 'suspended:error', err }, 'expiring suspended mail failed'));
    } finally {
      ticking = false;
    }
  };
  const automationTimer = setInterval(() => void tick(), interval);
  automationTimer.unref();
  let stopping: Promise<void> | undefined;
  return {
    app,
    smtp,
    pollers,
    metricsPort: health?.port,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(automationTimer);
        await health?.close();
        await Promise.all(pollers.map((p) => p.stop()));
        await smtp.close();
        await app.processor.stop();
        await app.close(); // stops the sender after the last batch has queued its mail
      })();
      return stopping;
    },
  };
}
