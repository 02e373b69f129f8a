import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * pino JSON lines on stderr, so stdout stays free for `--json` output of the CLI.
 * Each stage takes a child logger (`logger.child({ stage: 'ingest' })`); per-message lines add
 * message_id and ticket_id.
 */
export function createLogger(level: LevelWithSilent = 'info', base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: false }));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
