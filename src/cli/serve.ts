import type { Command } from 'commander';
import { configOption, loadConfigOrExit } from './context.js';
import { createLogger } from '../shared/logger.js';
import { loadConfig, ConfigError } from '../config/index.js';
import { errorCode, errorMessage } from '../shared/errors.js';
import { execFile } from 'node:child_process';

/** Type=notify under systemd (NotifyAccess=all): Node cannot write the datagram itself. */
function notifySystemd(args: string[]): void {
  if (process.env.NOTIFY_SOCKET) execFile('systemd-notify', args, () => {});
}

export function registerServe(program: Command): void {
  configOption(program.command('serve').description('run the daemon: SMTP listener and processing (SIGTERM stops cleanly)'))
    .action(async (opts: { config: string }) => {
      const config = loadConfigOrExit(opts.config);
      const logger = createLogger(config.log.level, {}, { format: config.log.format });
      // The daemon (SMTP, IMAP, metrics) is loaded only by serve, not by every CLI command.
      const { startDaemon } = await import('../daemon.js');
      const daemon = await startDaemon(config, { logger });
      logger.info({ event: 'serve:ready', config: config.configPath, data_dir: config.data_dir, smtp: daemon.smtp.addresses(), ...(daemon.lmtp ? { lmtp: [...daemon.lmtp.addresses(), ...daemon.lmtp.sockets()] } : {}), metrics_port: daemon.metricsPort }, 'deskgate ready');
      notifySystemd(['--ready', `--pid=${process.pid}`]);
      // SIGHUP: re-read the config; an invalid one is refused and the running one stays.
      process.on('SIGHUP', () => void (async () => {
        try {
          const next = loadConfig(opts.config);
          const needRestart = await daemon.app.reload(next);
          daemon.processing?.reload(next);
          logger.info({ event: 'serve:reloaded', config: next.configPath, restart_needed: needRestart }, needRestart.length ? `config reloaded; restart to apply: ${needRestart.join(', ')}` : 'config reloaded');
        } catch (err) {
          logger.error({ event: 'serve:reload_refused', code: err instanceof ConfigError ? err.code : errorCode(err), err: errorMessage(err) }, 'new config refused; the running config stays');
        }
      })());
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ event: 'serve:stopping', signal, sessions: daemon.smtp.sessions }, 'stopping: finishing sessions in progress');
          daemon.stop().then(resolve, (err: unknown) => {
            logger.error({ event: 'serve:stop_failed', err }, 'error while stopping');
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      logger.info({ event: 'serve:stopped' }, 'deskgate stopped');
      logger.flush();
    });
}
