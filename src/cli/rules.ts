import type { Command } from 'commander';
import { withApp, withReadOnlyApp, configOption } from './context.js';
import { printJson, table } from './format.js';
import type { Trigger, Condition, Action } from '../triggers/index.js';

function condText(c: Condition): string {
  return `${c.field} ${c.op} ${String(c.value)}`;
}

function actionText(a: Action): string {
  if ('email_user' in a) return `email ${a.email_user}: "${a.subject}"`;
  const [k, v] = Object.entries(a)[0]!;
  return `${k} ${Array.isArray(v) ? v.join(' ') : String(v)}`;
}

function describe(list: readonly Trigger[]): string {
  return table(['#', 'ID', 'ACTIVE', 'NAME', 'CONDITIONS', 'ACTIONS'], list.map((t, i) => [
    i + 1, t.id, t.active ? 'yes' : 'no', t.name,
    [t.conditions.all.map(condText).join(' AND '), t.conditions.any.length ? `ANY(${t.conditions.any.map(condText).join(' OR ')})` : ''].filter(Boolean).join(' AND '),
    t.actions.map(actionText).join('; '),
  ]));
}

/** `deskgate triggers list` and `automations list|run`: the rules in force, in run order. */
export function registerRules(program: Command): void {
  const triggers = program.command('triggers').description('triggers (R47-R51)');
  configOption(triggers.command('list').description('the triggers in force, defaults included, in run order'))
    .option('--json', 'print JSON')
    .action((opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      if (opts.json) return printJson(app.triggers);
      process.stdout.write(describe(app.triggers) + '\n');
    }));
  const automations = program.command('automations').description('automations (R52)');
  configOption(automations.command('list').description('the automations in force, defaults included, in run order'))
    .option('--json', 'print JSON')
    .action((opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      if (opts.json) return printJson(app.automations);
      process.stdout.write(describe(app.automations) + '\n');
    }));
  configOption(automations.command('run').description('run the automations once now (serve runs them every automations_interval)'))
    .option('--now <iso>', 'pretend it is this time (for checking what would fire later)')
    .option('--json', 'print JSON')
    .action((opts: { config: string; now?: string; json?: boolean }) => withApp(opts.config, async (app) => {
      const r = await app.runAutomations(opts.now ? new Date(opts.now) : undefined);
      if (opts.json) return printJson(r);
      process.stdout.write(`checked ${r.tickets} open ticket(s); ${r.fired.map((f) => `#${f.ticketId}: ${f.automations.join(', ')}`).join('; ') || 'nothing fired'}; ${r.queued} notification(s) queued\n`);
    }));
}
