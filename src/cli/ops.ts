import { resolve } from 'node:path';
import type { Command } from 'commander';
import { withReadOnlyApp, configOption, loadConfigOrExit, CliError } from './context.js';
import { printJson } from './format.js';
import { backupTo, restoreFrom } from '../store/index.js';

/** backup, restore and stats: what an admin runs from cron and when something looks wrong. */
export function registerOps(program: Command): void {
  configOption(program.command('backup <file>').description('one-file backup of the database, attachments, raw mail and secret (safe while serve runs)'))
    .option('--json', 'print JSON')
    .action((file: string, opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app, config) => {
      const started = Date.now();
      const r = await backupTo(app.db, config.data_dir, resolve(file), { created_at: new Date().toISOString(), deskgate: '0.1.0', data_dir: config.data_dir });
      const out = { file: resolve(file), files: r.files, bytes: r.bytes, tickets: app.views.list().length, seconds: (Date.now() - started) / 1000 };
      if (opts.json) return printJson(out);
      process.stdout.write(`backup written to ${out.file}: ${out.tickets} tickets, ${out.files} files (${out.bytes} bytes) in ${out.seconds}s\n`);
    }));
  configOption(program.command('restore <file>').description('restore a backup into data_dir (stop serve first)'))
    .option('--force', 'replace existing tickets')
    .option('--json', 'print JSON')
    .action((file: string, opts: { config: string; force?: boolean; json?: boolean }) => {
      const config = loadConfigOrExit(opts.config);
      let r;
      try {
        r = restoreFrom(resolve(file), config.data_dir, Boolean(opts.force));
      } catch (err) {
        throw new CliError(`restore refused: ${(err as Error).message}`, 1);
      }
      if (opts.json) return printJson({ file: resolve(file), data_dir: config.data_dir, ...r });
      process.stdout.write(`restored ${r.tickets} tickets and ${r.files} files into ${config.data_dir}\n`);
    });
  configOption(program.command('stats').description('tickets by status, queue depths, suspended count, last intake'))
    .option('--json', 'print JSON')
    .action((opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, (app) => {
      const intake = app.intake.countByStatus();
      const out = {
        tickets: app.views.countByStatus(),
        intake_queue: (intake.received ?? 0) + (intake.processing ?? 0),
        failed: intake.failed ?? 0,
        suspended: intake.suspended ?? 0,
        outbox: app.outbox.depth(),
        last_intake_at: app.intake.lastReceivedAt(),
        last_sent_at: app.outbox.lastSentAt(),
      };
      if (opts.json) return printJson(out);
      const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      process.stdout.write([
        `tickets:      ${kv(out.tickets)}`,
        `intake queue: ${out.intake_queue} waiting, ${out.failed} failed, ${out.suspended} suspended`,
        `outbox:       ${kv(out.outbox)}`,
        `last intake:  ${out.last_intake_at ?? '-'}`,
        `last sent:    ${out.last_sent_at ?? '-'}`,
      ].join('\n') + '\n');
    }));
}
