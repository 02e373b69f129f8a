import type { Command } from 'commander';
import { withReadOnlyApp, configOption, loadConfigOrExit, CliError } from './context.js';
import { systemClock } from '../shared/clock.js';
import { printJson, table } from './format.js';
import { createImapStateRepo } from '../store/index.js';
import { accountKey } from '../ingest/index.js';
import { refreshTokenKey } from '../shared/oauth2.js';
import type { ImapAccount } from '../ingest/imap-poller.js';

/** Refresh tokens serve kept after the provider rotated them; none when there is no database yet. */
async function rotatedRefreshTokens(configPath: string, accounts: readonly ImapAccount[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keys = accounts.flatMap((a) => (a.oauth2?.refresh_token ? [refreshTokenKey(a.oauth2)] : []));
  if (keys.length === 0) return out;
  await withReadOnlyApp(configPath, async (app) => {
    for (const k of keys) { const v = await app.meta.get(k); if (v) out.set(k, v); }
  }).catch(() => { /* no store yet (serve never ran): the configured token is the one */ });
  return out;
}

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
          account: key, host: a.host, user: a.user, auth: a.oauth2 ? `oauth2 (${a.oauth2.refresh_token ? 'refresh_token' : 'client_credentials'})` : 'password', mailbox: a.mailbox, processed_mailbox: a.processed_mailbox ?? null, idle: a.idle,
          state: s?.state ?? 'never_started', last_poll_at: s?.last_poll_at ?? null, last_error: s?.last_error ?? null, last_error_at: s?.last_error_at ?? null,
          imported: s?.imported ?? 0, duplicates: s?.duplicates ?? 0, uidvalidity: s?.uidvalidity ?? null, last_uid: s?.last_uid ?? 0,
        };
      });
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no imap: accounts in the config\n');
      process.stdout.write(table(['ACCOUNT', 'STATE', 'LAST POLL', 'IMPORTED', 'DUPLICATES', 'LAST ERROR'],
        rows.map((r) => [r.account, r.state, r.last_poll_at, r.imported, r.duplicates, r.last_error ? `${r.last_error_at}: ${r.last_error}` : null])) + '\n');
    }));
  configOption(imap.command('test').argument('[account]', 'an account (as imap status names it), or its user; default: every account')
    .description('log in to each IMAP account (getting its oauth2 token first), open its mailbox, and say what failed'))
    .option('--json', 'print JSON')
    .action(async (account: string | undefined, opts: { config: string; json?: boolean }) => {
      const config = loadConfigOrExit(opts.config);
      const accounts = config.imap.filter((a) => account === undefined || accountKey(a) === account || a.user === account);
      if (accounts.length === 0) throw new CliError(account ? `no imap: account ${account} in the config (deskgate imap status lists them)` : 'no imap: accounts in the config', 1);
      // imapflow is loaded by this command only.
      const { checkImapAccount } = await import('../ingest/imap-check.js');
      const rotated = await rotatedRefreshTokens(opts.config, accounts);
      const results = [];
      for (const a of accounts) {
        const kept = a.oauth2 ? rotated.get(refreshTokenKey(a.oauth2)) : undefined;
        // The refresh token serve last got (R72), read only: a test never rotates what serve keeps.
        const store = kept ? { load: async () => kept, save: async () => {} } : undefined;
        results.push({ account: accountKey(a), ...(await checkImapAccount(a, systemClock, store)) });
      }
      if (opts.json) printJson(results);
      else {
        for (const r of results) {
          process.stdout.write(`${r.account}: ${r.ok ? 'OK' : 'FAILED'}\n`);
          for (const s of r.steps) process.stdout.write(`  ${s.ok ? 'ok    ' : 'FAILED'} ${s.step.padEnd(8)} ${s.detail}\n`);
        }
      }
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}
