import type { App } from '../compose.js';
import type { Logger } from '../shared/logger.js';

/**
 * R52, R41: automations and suspended-mail expiry every automations_interval, the first one
 * interval after start; with several nodes only the leader runs them, once per interval (R71).
 */
export function startLeaderTicks(app: App, logger: Logger): { stop(): Promise<void> } {
  const interval = app.config.automations_interval;
  let running: Promise<void> | undefined;
  const tick = async () => {
    const now = app.ctx.clock.now();
    await app.leadership.runIfDue('automations', now, interval, () => app.runAutomations(now))
      .catch((err: unknown) => logger.error({ event: 'automations:error', err }, 'automation run failed'));
    await app.leadership.runIfDue('suspended-expiry', now, interval, () => app.expireSuspended(now))
      .catch((err: unknown) => logger.error({ event: 'suspended:error', err }, 'expiring suspended mail failed'));
  };
  const timer = setInterval(() => {
    running ??= tick().finally(() => { running = undefined; }); // a long run is not overlapped by the next tick
  }, interval);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
