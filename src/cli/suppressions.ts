import type { Command } from 'commander';
import { withApp, withReadOnlyApp, configOption, CliError } from './context.js';
import { printJson, table } from './format.js';
import { normalizeAddress } from '../shared/addresses.js';

export function registerSuppressions(program: Command): void {
  const cmd = program.command('suppressions').description('addresses that get no notifications after bouncing (R68)');
  configOption(cmd.command('list').description('suppressed addresses, oldest first'))
    .option('--json', 'print JSON: [{address, reason, code, bounces, since}]')
    .action((opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const rows = await app.suppressions.list();
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no suppressed addresses\n');
      process.stdout.write(table(['ADDRESS', 'REASON', 'CODE', 'BOUNCES', 'SINCE'], rows.map((r) => [r.address, r.reason, r.code ?? '', r.bounces, r.since])) + '\n');
    }));
  configOption(cmd.command('remove <address>').description('send it notifications again (its bounce counts start over)'))
    .option('--json', 'print JSON')
    .action((address: string, opts: { config: string; json?: boolean }) => withApp(opts.config, async (app) => {
      const a = normalizeAddress(address);
      const was = await app.suppressions.remove(a);
      // Not suppressed: nothing to do (an error for scripts); a soft bounce count it had is cleared.
      if (was !== true) throw new CliError(`${a} is not suppressed${was === false ? '; its soft bounce count was cleared' : ''}`, 1);
      if (opts.json) return printJson({ address: a, removed: true });
      process.stdout.write(`${a} removed from the suppression list\n`);
    }));
}
