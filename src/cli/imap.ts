import type { Command } from 'commander';
import { withReadOnlyApp, configOption } from './context.js';
import { printJson, table } from './format.js';
import { createImapStateRepo } from '../store/index.js';
import { accountKey } from '../ingest/index.js';

export function registerImap(program: Command): void {
  const imap = program.command('imap').description('IMAP intake');
  configOption(imap.command('status').description('each IMAP account: state, last poll, last error, counts'))
    .option('--json', 'print JSON')
    .action((opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app, config) => {
      const states = new Map((await createImapStateRepo(app.sql).all()).map((s) => [s.account, s]));
      const rows = config.imap.map((a) => {
        const key = accountKey(a);
        const s = states.get(key);
        return {
          account: key, host: a.host, user: a.user, mailbox: a.mailbox, processed_mailbox: a.processed_mailbox ?? null, idle: a.idle,
          state: s?.state ?? 'never_started', last_poll_at: s?.last_poll_at ?? null, last_error: s?.last_error ?? null, last_error_at: s?.last_error_at ?? null,
          imported: s?.imported ?? 0, duplicates: s?.duplicates ?? 0, uidvalidity: s?.uidvalidity ?? null, last_uid: s?.last_uid ?? 0,
        };
      });
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no imap: accounts in the config\n');
      process.stdout.write(table(['ACCOUNT', 'STATE', 'LAST POLL', 'IMPORTED', 'DUPLICATES', 'LAST ERROR'],
        rows.map((r) => [r.account, r.state, r.last_poll_at, r.imported, r.duplicates, r.last_error ? `${r.last_error_at}: ${r.last_error}` : null])) + '\n');
    }));
}
