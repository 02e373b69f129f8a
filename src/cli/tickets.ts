import type { Command } from 'commander';
import { withApp, withReadOnlyApp, configOption, CliError } from './context.js';
import { printJson, table, person, collect } from './format.js';
import { updateTicket } from '../pipeline/index.js';
import { DeskgateError } from '../shared/errors.js';
import type { TicketJson } from '../store/index.js';


function ticketId(raw: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) throw new CliError(`not a ticket id: ${raw}`, 64);
  return id;
}

function showHuman(t: TicketJson): string {
  const lines = [
    `Ticket #${t.id}: ${t.subject}`,
    `  status     ${t.status}${t.follow_up_of ? ` (follow-up of #${t.follow_up_of})` : ''}`,
    `  requester  ${person(t.requester)}`,
    `  assignee   ${person(t.assignee)}    group ${t.group ?? '-'}`,
    `  recipient  ${t.recipient} via ${t.via}`,
    `  CCs        ${t.ccs.map(person).join(', ') || '-'}`,
    `  followers  ${t.followers.map(person).join(', ') || '-'}`,
    `  tags       ${t.tags.join(' ') || '-'}`,
    ...(t.warnings.length ? [`  warnings   ${t.warnings.join(', ')}`] : []),
    `  created    ${t.created_at}   updated ${t.updated_at}`,
    '',
  ];
  for (const c of t.comments ?? []) {
    lines.push(`--- comment ${c.id} · ${c.public ? 'PUBLIC' : 'PRIVATE NOTE'} (${c.visibility_rule}) · ${person(c.author)} [${c.author.role}] · ${c.created_at}${c.flags.length ? ` · flags: ${c.flags.join(', ')}` : ''}`);
    lines.push(...c.body.split('\n').map((l) => `    ${l}`));
    for (const a of c.attachments) lines.push(`    [attachment] ${a.filename ?? '(unnamed)'} ${a.content_type} ${a.size} bytes sha256:${a.sha256.slice(0, 12)}`);
  }
  if (t.audit?.length) {
    lines.push('', 'Audit:', table(['AT', 'ACTOR', 'RULE', 'CHANGE', 'VALUE'], t.audit.map((a) => [a.at, a.actor, a.rule, a.change, a.value])));
  }
  return lines.join('\n') + '\n';
}

export function registerTickets(program: Command): void {
  const tickets = program.command('tickets').description('inspect and update tickets');
  configOption(tickets.command('list').description('tickets, newest first'))
    .option('--status <status>', 'only tickets with this status')
    .option('--limit <n>', 'at most N', (v) => Number(v))
    .option('--json', 'print JSON')
    .action((opts: { config: string; status?: string; limit?: number; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const list = await app.views.list({ status: opts.status, limit: opts.limit });
      if (opts.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write('no tickets\n');
      process.stdout.write(table(['ID', 'STATUS', 'SUBJECT', 'REQUESTER', 'ASSIGNEE', 'GROUP', 'UPDATED'],
        list.map((t) => [t.id, t.status, t.subject, t.requester.email, t.assignee?.email, t.group, t.updated_at])) + '\n');
    }));
  configOption(tickets.command('show <id>').description('one ticket with its comments and audit log'))
    .option('--json', 'print JSON')
    .action((id: string, opts: { config: string; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const t = await app.views.show(ticketId(id));
      if (!t) throw new CliError(`ticket ${id} not found`, 1);
      if (opts.json) return printJson(t);
      process.stdout.write(showHuman(t));
    }));
  configOption(tickets.command('update <id>').description('agent actions on a ticket'))
    .option('--status <status>', 'open, pending, solved or closed (R35)')
    .option('--assignee <email>', 'assign to an agent')
    .option('--group <name>', 'set the group')
    .option('--add-follower <email>', 'add a follower (agents only, R30); repeatable', collect)
    .option('--remove-follower <email>', 'remove a follower; repeatable', collect)
    .option('--add-cc <email>', 'add a CC; repeatable', collect)
    .option('--remove-cc <email>', 'remove a CC; repeatable', collect)
    .option('--tag <tag>', 'add a tag; repeatable', collect)
    .option('--comment <text>', 'add a comment (public unless --private)')
    .option('--private', 'make --comment a private note')
    .option('--author <email>', 'the agent making the change (needed for --comment)')
    .option('--json', 'print the updated ticket as JSON')
    .action((id: string, opts: Record<string, unknown> & { config: string }) => withApp(opts.config, async (app, config) => {
      const tid = ticketId(id);
      try {
        await updateTicket(app.ctx, tid, {
          status: opts.status as string | undefined,
          assignee: opts.assignee as string | undefined,
          group: opts.group as string | undefined,
          addFollowers: opts.addFollower as string[] | undefined,
          removeFollowers: opts.removeFollower as string[] | undefined,
          addCcs: opts.addCc as string[] | undefined,
          removeCcs: opts.removeCc as string[] | undefined,
          tags: opts.tag as string[] | undefined,
          comment: typeof opts.comment === 'string' ? { body: opts.comment, private: Boolean(opts.private) } : undefined,
          author: opts.author as string | undefined,
        }, { groups: config.groups.map((g) => g.name), ccs: config.ccs });
      } catch (err) {
        if (err instanceof DeskgateError) throw new CliError(`ticket ${tid}: ${err.message}`, 1);
        throw err;
      }
      const t = (await app.views.show(tid))!;
      if (opts.json) return printJson(t);
      process.stdout.write(`ticket ${tid} updated: ${t.status}, assignee ${t.assignee?.email ?? '-'}\n`);
    }));
}
