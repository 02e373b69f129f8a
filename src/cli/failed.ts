import type { Command } from 'commander';
import { withApp, withReadOnlyApp, configOption, CliError } from './context.js';
import { printJson, table } from './format.js';
import type { IntakeRow } from '../store/index.js';

function failedJson(r: IntakeRow) {
  return { id: r.id, message_id: r.message_id, via: r.via, from: r.envelope_from, to: r.envelope_to, error_code: r.error_code, error: r.error, attempts: r.attempts, received_at: r.received_at, failed_at: r.processed_at, raw_path: r.raw_path };
}

export function registerFailed(program: Command): void {
  const failed = program.command('failed').description('messages that could not be processed (R8)');
  configOption(failed.command('list').description('list failed messages, newest first'))
    .option('--limit <n>', 'at most N', (v) => Number(v))
    .option('--json', 'print JSON')
    .action((opts: { config: string; limit?: number; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const rows = (await app.intake.list('failed', opts.limit)).map(failedJson);
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no failed messages\n');
      process.stdout.write(table(['ID', 'RECEIVED', 'VIA', 'FROM', 'MESSAGE-ID', 'ERROR'], rows.map((r) => [r.id, r.received_at, r.via, r.from, r.message_id, `${r.error_code}: ${r.error}`])) + '\n');
    }));
  configOption(failed.command('retry <id>').description('process a failed message again'))
    .option('--json', 'print JSON')
    .action((id: string, opts: { config: string; json?: boolean }) => withApp(opts.config, async (app) => {
      const intakeId = Number(id);
      if (!(await app.intake.retry(intakeId))) throw new CliError(`intake ${id} is not a failed message`, 1);
      await app.processor.processOne(intakeId);
      const row = (await app.intake.get(intakeId))!;
      if (opts.json) return printJson({ ...failedJson(row), status: row.status, ticket_id: row.ticket_id });
      process.stdout.write(row.status === 'done' ? `intake ${id}: done, ticket ${row.ticket_id}\n` : `intake ${id}: ${row.status} (${row.error_code}: ${row.error})\n`);
    }));
}
