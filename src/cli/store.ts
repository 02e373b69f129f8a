import type { Command } from 'commander';
import { configOption, loadConfigOrExit, CliError, EX_TEMPFAIL } from './context.js';
import { printJson } from './format.js';
import { createLogger } from '../shared/logger.js';
import { DeskgateError } from '../shared/errors.js';
import type { Config } from '../config/index.js';

/** Store errors as exit statuses: a database that is not there (yet) is temporary (75), the rest 1. */
function storeFailure(err: unknown): never {
  if (err instanceof DeskgateError && err.code.startsWith('STORE_')) {
    throw new CliError(`${err.code}: ${err.message}`, err.code === 'STORE_UNREACHABLE' ? EX_TEMPFAIL : 1);
  }
  throw err;
}

function loggerFor(config: Config) {
  // Warnings (a missing raw file) on stderr; stdout keeps the one summary.
  return createLogger(process.env.DESKGATE_LOG_LEVEL as never ?? (config.log.level === 'info' ? 'warn' : config.log.level), {}, { format: config.log.format });
}

/** migrate and copy-store: schema upgrades and the move from SQLite to PostgreSQL (issue 14). */
export function registerStore(program: Command): void {
  configOption(program.command('migrate').description('bring the configured database (SQLite or PostgreSQL) to the current schema (serve does it too)'))
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = loadConfigOrExit(opts.config);
      const { migrateStore } = await import('../store/copy-store.js');
      const r = await migrateStore(config, { logger: loggerFor(config) }).catch(storeFailure);
      if (opts.json) return printJson(r);
      const what = r.applied.length === 0 ? 'already current' : `applied migration ${r.applied.join(', ')}`;
      process.stdout.write(`${r.backend} ${r.location}: ${what}; schema version ${r.current}\n`);
    });
  configOption(program.command('copy-store').description('copy a SQLite deployment (--from its config) into the PostgreSQL of -c (stop serve first)'))
    .requiredOption('--from <config>', 'config of the SQLite deployment to copy')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; from: string; json?: boolean }) => {
      const source = loadConfigOrExit(opts.from);
      const target = loadConfigOrExit(opts.config);
      const { copyStore } = await import('../store/copy-store.js');
      const r = await copyStore(source, target, { logger: loggerFor(target) }).catch(storeFailure);
      if (opts.json) return printJson(r);
      const rows = Object.entries(r.tables).map(([t, n]) => `  ${t.padEnd(17)} ${n}`).join('\n');
      process.stdout.write([
        `copied ${r.from} into ${r.to} in ${r.seconds}s`,
        rows,
        `  raw files         ${r.raw_blobs} (now blobs)`,
        `  attachments       ${r.attachments} (now blobs)`,
        `  reply-token key   ${r.secret === 'copied' ? 'copied into the database' : r.secret === 'config' ? 'from the new config' : 'none found'}`,
        ...(r.old_tokens_verify ? [] : ['  WARNING: the new config\'s secret is not the old key: reply tokens in mail already sent no longer verify']),
        ...(r.missing_raw.count > 0 ? [`  MISSING raw files for ${r.missing_raw.count} intake rows: ${r.missing_raw.intake_ids.join(', ')}`] : []),
        ...(r.missing_attachments.count > 0 ? [`  MISSING ${r.missing_attachments.count} attachment files: ${r.missing_attachments.sha256.join(', ')}`] : []),
      ].join('\n') + '\n');
    });
}
