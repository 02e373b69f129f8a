import { Command } from 'commander';
import { loadConfig, ConfigError, EX_CONFIG, defaultConfigPath, type Config } from '../config/index.js';
import type { App } from '../compose.js';
import type { Intake } from '../compose-intake.js';
import { systemClock } from '../shared/clock.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { DeskgateError } from '../shared/errors.js';
import { databaseFile } from '../store/index.js';
import { existsSync } from 'node:fs';

export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOUSER = 67;
export const EX_SOFTWARE = 70;
export const EX_TEMPFAIL = 75;

/** A CLI failure with the exit status it should end with (code CLI_EXIT_<status>). */
export class CliError extends DeskgateError {
  constructor(message: string, readonly exitCode: number = 1) {
    super(`CLI_EXIT_${exitCode}`, message, { context: { exitCode } });
    this.name = 'CliError';
  }
}

export interface GlobalOptions {
  config?: string;
}

export function configOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'config file (env DESKGATE_CONFIG)', defaultConfigPath());
}

export function loadConfigOrExit(file: string | undefined): Config {
  try {
    return loadConfig(file ?? defaultConfigPath());
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EX_CONFIG);
    throw err;
  }
}

/** A short CLI command's logger: stderr, at warn when the config says info (DESKGATE_LOG_LEVEL overrides). */
function cliLogger(config: Config): Logger {
  return createLogger(process.env.DESKGATE_LOG_LEVEL as never ?? (config.log.level === 'info' ? 'warn' : config.log.level), {}, { format: config.log.format });
}

/** Opening the store: a database that needs a migration first (read-only commands do not migrate) exits 75 with the reason, not as a crash. */
async function opening<T>(open: Promise<T>): Promise<T> {
  try {
    return await open;
  } catch (err) {
    if (err instanceof DeskgateError && err.code === 'STORE_SCHEMA_OLD') throw new CliError(`${err.code}: ${err.message}`, EX_TEMPFAIL);
    throw err;
  }
}

/** Opens the app for a short CLI command: parsing inline (no worker threads), logs at warn. */
export async function withApp<T>(file: string | undefined, fn: (app: App, config: Config, logger: Logger) => Promise<T> | T, opts: { readOnly?: boolean } = {}): Promise<T> {
  const config = loadConfigOrExit(file);
  const logger = cliLogger(config);
  if (opts.readOnly && !existsSync(databaseFile(config.data_dir))) {
    process.stderr.write(`deskgate: no database at ${databaseFile(config.data_dir)} yet (STORE_NO_DATABASE): showing an empty helpdesk; deskgate serve or inject creates it\n`);
  }
  // Loaded here, not at the top: `--help`, `config schema` and check-config need none of it.
  const { composeApp } = await import('../compose.js');
  const app = await opening(composeApp(config, { logger, parseWorkers: 0, readOnly: opts.readOnly ?? false, metrics: false }));
  try {
    return await fn(app, config, logger);
  } finally {
    await app.close();
  }
}

/**
 * The intake half only (store, accept path): `inject` stores its message with it and loads the
 * rest (composeApp, with `intake` handed over) only when it processes the message itself. `fn`
 * gets a `process` function that does that; the store is closed once, by whoever holds it last.
 */
export async function withIntake<T>(file: string | undefined, fn: (intake: Intake, config: Config, logger: Logger, process: () => Promise<App>) => Promise<T>): Promise<T> {
  const config = loadConfigOrExit(file);
  const logger = cliLogger(config);
  const { composeIntake } = await import('../compose-intake.js');
  const intake = await opening(composeIntake(config, { logger, clock: systemClock }));
  let app: App | undefined;
  const toApp = async (): Promise<App> => {
    const { composeApp } = await import('../compose.js');
    return (app ??= await composeApp(config, { logger, parseWorkers: 0, intake, metrics: false }));
  };
  try {
    return await fn(intake, config, logger, toApp);
  } finally {
    if (app) await app.close();
    else await intake.store.close();
  }
}

/**
 * For commands that only look (list, show, status, stats, backup): they write nothing in
 * data_dir, neither the database (no migration, no staff sync) nor a secret file.
 */
export function withReadOnlyApp<T>(file: string | undefined, fn: (app: App, config: Config, logger: Logger) => Promise<T> | T): Promise<T> {
  return withApp(file, fn, { readOnly: true });
}
