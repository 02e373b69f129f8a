import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';
import { errorCode } from './errors.js';

export type { Logger };

/** `log.format`: auto picks by where stderr goes (see chooseLogFormat). */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** What chooseLogFormat looks at, as plain data so it can be tested. */
export interface LogSurroundings {
  stderrIsTTY: boolean;
  env: Record<string, string | undefined>;
  /** /.dockerenv exists. */
  dockerenv: boolean;
}

export function currentSurroundings(): LogSurroundings {
  return { stderrIsTTY: Boolean(process.stderr.isTTY), env: process.env, dockerenv: existsSync('/.dockerenv') };
}

/**
 * Human lines for a person at a terminal; JSON for journald, Docker and anything piped, where
 * a log collector reads them. systemd sets JOURNAL_STREAM / INVOCATION_ID for its services and
 * Docker leaves /.dockerenv (podman and systemd-nspawn set `container`), even with a TTY.
 */
export function chooseLogFormat(format: LogFormat, s: LogSurroundings): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  const managed = Boolean(s.env.JOURNAL_STREAM || s.env.INVOCATION_ID || s.env.container) || s.dockerenv;
  return s.stderrIsTTY && !managed ? 'pretty' : 'json';
}

/**
 * Every line that carries an error (`err`, or `error`) gets a top-level `code`: the
 * DeskgateError's, the Node/SQLite one (SQLITE_BUSY, ECONNREFUSED), else INTERNAL. A code the
 * caller set stays. One place, so no call site can forget it.
 */
export function withErrorCode(obj: Record<string, unknown>): Record<string, unknown> {
  if (obj.code !== undefined) return obj;
  const err = obj.err ?? obj.error;
  if (err === undefined || err === null) return obj;
  return { ...obj, code: errorCode(err) };
}

export interface LoggerOptions {
  format?: LogFormat;
  /** Tests: write JSON lines here instead of stderr. */
  destination?: DestinationStream;
  surroundings?: LogSurroundings;
}

type PrettyFactory = (opts: Record<string, unknown>) => DestinationStream;
// pino-pretty (and its dependencies) loads only when a person is reading.
const prettyStream = (): PrettyFactory => (createRequire(import.meta.url)('pino-pretty') as { build: PrettyFactory }).build;

function destinationFor(opts: LoggerOptions): DestinationStream {
  if (opts.destination) return opts.destination;
  const s = opts.surroundings ?? currentSurroundings();
  if (chooseLogFormat(opts.format ?? 'auto', s) === 'pretty') {
    return prettyStream()({
      destination: 2, sync: true, colorize: s.stderrIsTTY, singleLine: true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname',
    });
  }
  return pino.destination({ fd: 2, sync: false });
}

/**
 * pino on stderr, so stdout stays free for `--json` output of the CLI: JSON lines, or human
 * lines on a terminal (log.format). Each stage takes a child logger
 * (`logger.child({ stage: 'ingest' })`); per-message lines add message_id and ticket_id.
 */
export function createLogger(level: LevelWithSilent = 'info', base: Record<string, unknown> = {}, opts: LoggerOptions = {}): Logger {
  return pino({
    level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: withErrorCode },
  }, destinationFor(opts));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
