import { resolve } from 'node:path';
import type { Command } from 'commander';
import { withReadOnlyApp, configOption, loadConfigOrExit, CliError } from './context.js';
import { printJson } from './format.js';
import { backupTo, restoreFrom } from '../store/index.js';

const POSTGRES_BACKUP = 'store.backend is postgres: everything (tickets, queues, raw mail, attachments) is in the database; back it up with pg_dump -Fc and restore with pg_restore (docs/admin-guide.md, "Backup and restore")';

/** backup, restore and stats: what an admin runs from cron and when something looks wrong. */
export function registerOps(program: Command): void {
  configOption(program.command('backup <file>').description('one-file backup of the database, attachments, raw mail and secret (safe while serve runs)'))
    .option('--json', 'print JSON')
    .action((file: string, opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app, config) => {
      const started = Date.now();
      if (!app.store.sqlite) throw new CliError(POSTGRES_BACKUP, 1);
      const r = await backupTo(app.store.sqlite, config.data_dir, resolve(file), { created_at: new Date().toISOString(), deskgate: '0.1.0', data_dir: config.data_dir });
      const out = { file: resolve(file), files: r.files, bytes: r.bytes, tickets: (await app.views.countAll()), seconds: (Date.now() - started) / 1000 };
      if (opts.json) return printJson(out);
      process.stdout.write(`backup written to ${out.file}: ${out.tickets} tickets, ${out.files} files (${out.bytes} bytes) in ${out.seconds}s\n`);
    }));
  configOption(program.command('restore <file>').description('restore a backup into data_dir (stop serve first)'))
    .option('--force', 'replace existing tickets')
    .option('--json', 'print JSON')
    .action((file: string, opts: { config: string; force?: boolean; json?: boolean }) => {
      const config = loadConfigOrExit(opts.config);
      if (config.store.backend === 'postgres') throw new CliError(POSTGRES_BACKUP, 1);
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
    .action((opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const intake = await app.intake.countByStatus();
      const out = {
        tickets: await app.views.countByStatus(),
        intake_queue: (intake.received ?? 0) + (intake.processing ?? 0),
        // Past this many waiting, serve answers new mail 451 4.3.2 (processing.backlog_high_water).
        intake_high_water: app.config.processing.backlog_high_water,
        failed: intake.failed ?? 0,
        suspended: intake.suspended ?? 0,
        outbox: await app.outbox.depth(),
        last_intake_at: await app.intake.lastReceivedAt(),
        last_sent_at: await app.outbox.lastSentAt(),
        store: { backend: app.store.backend, location: app.store.location },
        // R71: the running nodes (heartbeat within the lease) and what each leads.
        nodes: (await app.nodes.list())
          .filter((n) => Date.now() - Date.parse(n.last_seen) <= app.config.processing.claim_lease)
          .map((n) => ({ id: n.id, host: n.host, pid: n.pid, started_at: n.started_at, last_seen: n.last_seen, leads: n.leads })),
      };
      if (opts.json) return printJson(out);
      const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      process.stdout.write([
        `tickets:      ${kv(out.tickets)}`,
        `intake queue: ${out.intake_queue} waiting (high-water mark ${out.intake_high_water}${out.intake_queue >= out.intake_high_water ? ': FULL, new mail deferred' : ''}), ${out.failed} failed, ${out.suspended} suspended`,
        `outbox:       ${kv(out.outbox)}`,
        `last intake:  ${out.last_intake_at ?? '-'}`,
        `last sent:    ${out.last_sent_at ?? '-'}`,
        `store:        ${out.store.backend} (${out.store.location})`,
        `nodes:        ${out.nodes.length === 0 ? 'none running' : out.nodes.map((n) => `${n.id}${n.leads.length ? ` leads ${n.leads.join(' ')}` : ''}`).join('\n              ')}`,
      ].join('\n') + '\n');
    }));
}
