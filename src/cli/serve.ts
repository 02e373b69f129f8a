import type { Command } from 'commander';
import { configOption, loadConfigOrExit } from './context.js';
import { startDaemon } from '../daemon.js';
import { createLogger } from '../shared/logger.js';

export function registerServe(program: Command): void {
  configOption(program.command('serve').description('run the daemon: SMTP listener and processing (SIGTERM stops cleanly)'))
    .action(async (opts: { config: string }) => {
      const config = loadConfigOrExit(opts.config);
      const logger = createLogger(config.log.level);
      const daemon = await startDaemon(config, { logger });
      logger.info({ event: 'serve:ready', config: config.configPath, data_dir: config.data_dir, smtp: daemon.smtp.addresses() }, 'deskgate ready');
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
