import type { Command } from 'commander';
import { withReadOnlyApp, configOption } from './context.js';
import { printJson, table } from './format.js';
import type { OutboundRow } from '../store/index.js';

/** The Outbox JSON of interfaces.md. */
function outboxJson(r: OutboundRow) {
  return {
    // kind: every row is mail until webhooks (R70) queue beside it.
    id: r.id, kind: 'email' as const, ticket_id: r.ticket_id, trigger: r.trigger, status: r.status, from: r.from.email,
    to: r.to.map((p) => p.email), cc: r.cc.map((p) => p.email), subject: r.subject, message_id: r.message_id,
    in_reply_to: r.in_reply_to, references: r.references, attempts: r.attempts, last_error: r.last_error,
    created_at: r.created_at, sent_at: r.sent_at, next_attempt_at: r.next_attempt_at,
  };
}

export function registerOutbox(program: Command): void {
  const outbox = program.command('outbox').description('outbound notifications (R59)');
  configOption(outbox.command('list').description('outbound messages, newest first'))
    .option('--status <status>', 'queued, deferred, sent, failed, held, bounced or suppressed')
    .option('--limit <n>', 'at most N', (v) => Number(v))
    .option('--json', 'print JSON')
    .action((opts: { config: string; status?: string; limit?: number; json?: boolean }) => withReadOnlyApp(opts.config, async (app) => {
      const rows = (await app.outbox.list({ status: opts.status, limit: opts.limit })).map(outboxJson);
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return void process.stdout.write('no outbound messages\n');
      process.stdout.write(table(['ID', 'TICKET', 'STATUS', 'TRIGGER', 'TO', 'SUBJECT', 'TRIES', 'LAST ERROR'],
        rows.map((r) => [r.id, r.ticket_id, r.status, r.trigger, [...r.to, ...r.cc].join(', '), r.subject, r.attempts, r.last_error])) + '\n');
    }));
}
