import type { Config } from './config/index.js';
import { composeApp, type App } from './compose.js';
import { startSmtpListener, type SmtpListener } from './ingest/index.js';
import type { Logger } from './shared/logger.js';
import type { Clock } from './shared/clock.js';

export interface Daemon {
  app: App;
  smtp: SmtpListener;
  /** Graceful stop: sessions in DATA finish (others get 421), commits finish, then close. */
  stop(): Promise<void>;
}

/** What `deskgate serve` runs: SMTP listener + processing loop over one database. */
export async function startDaemon(config: Config, opts: { logger: Logger; clock?: Clock; parseWorkers?: number; closeTimeoutMs?: number }): Promise<Daemon> {
  const app = composeApp(config, opts);
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
      closeTimeoutMs: opts.closeTimeoutMs ?? 10_000,
    }, app.accept, opts.logger);
  } catch (err) {
    await app.close();
    throw err;
  }
  app.processor.start();
  app.sender.start();
  // R52: automations every automations_interval, first one interval after start.
  const automationTimer = setInterval(() => {
    try { app.runAutomations(); } catch (err) { opts.logger.error({ event: 'automations:error', err }, 'automation run failed'); }
  }, config.automations_interval);
  automationTimer.unref();
  let stopping: Promise<void> | undefined;
  return {
    app,
    smtp,
    stop() {
      stopping ??= (async () => {
        clearInterval(automationTimer);
        await smtp.close();
        await app.processor.stop();
        await app.sender.stop();
        await app.close();
      })();
      return stopping;
    },
  };
}
