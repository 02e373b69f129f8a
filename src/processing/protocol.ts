import type { Config } from '../config/index.js';
import type { LevelWithSilent } from 'pino';
import type { LogFormat, LogSurroundings } from '../shared/logger.js';
import type { MetricsSnapshot } from '../shared/metrics.js';

/** What a processing thread is started with (structured clone of plain data). */
export interface ProcessingThreadData {
  config: Config;
  /** The node's id: thread 0 claims under it, thread k under `<id>/k`. */
  nodeId: string;
  index: number;
  count: number;
  log: { level: LevelWithSilent; format: LogFormat; surroundings: LogSurroundings };
  parseWorkers?: number;
  /** SQLite: the listener's write gate (shared/write-gate.ts). */
  writeGate?: SharedArrayBuffer;
}

export type ToThread =
  | { t: 'kick' }
  | { t: 'reload'; config: Config }
  | { t: 'imap-leads'; leads: string[] }
  | { t: 'metrics'; id: number }
  | { t: 'stop' };

export type FromThread =
  | { t: 'ready' }
  | { t: 'failed'; code: string; message: string }
  | { t: 'leads'; leads: string[] }
  | { t: 'metrics'; id: number; snapshot: MetricsSnapshot }
  | { t: 'stopped' };
