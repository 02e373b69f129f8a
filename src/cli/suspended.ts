import type { Command } from 'commander';
import { withApp, withReadOnlyApp, configOption, CliError } from './context.js';
import { printJson, table } from './format.js';
import type { IntakeRow } from '../store/index.js';

/** The Suspended JSON of interfaces.md (plus via and the envelope). */
function suspendedJson(r: IntakeRow) {
  return { id: r.id, reason: r.error_code, from: r.sender ?? r.envelope_from, subject: r.subject, message_id: r.message_id, received_at: r.received_at, via: r.via, to: r.envelope_to };
}

export function registerSuspended(program: Command): void {
  const suspended = program.command('suspended').description('held mail (R41): suspended instead of processed, never dropped');
  configOption(suspended.command('list').description('suspended messages, newest first'))
    .option('--limit <n>', 'at most N', (v) => Number(v))
    .option('--json', 'print JSON')
    .action((opts: { config: string; limit?: number; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const rows = (await app.intake.list('suspended', opts.limit)).map(suspendedJson);
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no suspended messages\n');
      process.stdout.write(table(['ID', 'RECEIVED', 'REASON', 'FROM', 'SUBJECT'], rows.map((r) => [r.id, r.received_at, r.reason, r.from, r.subject])) + '\n');
    }));
  configOption(suspended.command('show <id>').description('one suspended message with its headers and text'))
    .option('--json', 'print JSON')
    .action((id: string, opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const row = await app.intake.get(Number(id));
      if (!row || row.status !== 'suspended') throw new CliError(`${id} is not a suspended message`, 1);
      const raw = row.raw_path ? await app.raw.read(row.raw_path) : (await app.intake.rawBytes(row.id))!;
      const text = raw.toString('utf8');
      if (opts.json) return printJson({ ...suspendedJson(row), raw: text });
      process.stdout.write(`Suspended ${row.id}: ${row.error_code}\nreceived ${row.received_at} via ${row.via} from ${row.sender ?? row.envelope_from}\n\n${text.slice(0, 20_000)}\n`);
    }));
  configOption(suspended.command('release <id>').description('process it now, skipping the check that held it'))
    .option('--json', 'print JSON')
    .action((id: string, opts: { config: string; json?: boolean }) => withApp(opts.config, async (app) => {
      const row = await app.intake.get(Number(id));
      if (!row || row.status !== 'suspended') throw new CliError(`${id} is not a suspended message`, 1);
      await app.intake.release(row.id, [...row.skip_checks, row.error_code!]);
      await app.processor.processOne(row.id);
      const after = (await app.intake.get(row.id))!;
      const out = { id: row.id, released_from: row.error_code, status: after.status, ticket_id: after.ticket_id, reason: after.status === 'suspended' ? after.error_code : null };
      if (opts.json) return printJson(out);
      process.stdout.write(after.status === 'done' ? `released ${row.id}: ticket ${after.ticket_id}\n` : `released ${row.id}: ${after.status}${out.reason ? ` again (${out.reason})` : ''}\n`);
    }));
  configOption(suspended.command('delete <id>').description('delete a suspended message and its raw bytes'))
    .option('--json', 'print JSON')
    .action((id: string, opts: { config: string; json?: boolean }) => withApp(opts.config, async (app) => {
      const row = await app.intake.deleteSuspended(Number(id), new Date().toISOString());
      if (!row) throw new CliError(`${id} is not a suspended message`, 1);
      if (row.raw_path) await app.raw.remove(row.raw_path);
      if (opts.json) return printJson({ ...suspendedJson(row), deleted: true });
      process.stdout.write(`deleted suspended message ${row.id}\n`);
    }));
}
