import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { withApp, configOption, CliError, EX_NOUSER, EX_USAGE } from './context.js';
import { printJson } from './format.js';
import { parseMessage } from '../parse/index.js';
import { decide } from '../pipeline/index.js';
import { normalizeAddress } from '../shared/addresses.js';
import { recipientsFromHeaders } from '../ingest/recipients.js';
import type { Decision } from '../rules/index.js';
import type { ThreadMatch } from '../thread/index.js';

/** One sentence per rule, for admins asking "why did this happen?". */
const WHY: Record<string, string> = {
  R10: 'its In-Reply-To/References name a message of the ticket',
  R11: 'it carries the ticket\'s signed reply token',
  R12: 'it matches no ticket, so it starts a new one; the first comment is public',
  R14: 'the ticket it answers is closed, so it starts a follow-up ticket',
  R13: 'an end user\'s public comment reopens a solved or pending ticket',
  R15: 'an agent forwarded it: the original sender becomes the requester',
  R16: 'an end user: the requester is always public; a CC is public only with the requester in To/Cc (Reply-all)',
  R17: 'an agent: public only when the requester or an end-user CC is in To/Cc (Reply-all), and only once the ticket has a public comment; otherwise a private note',
  R18: 'a follower (not assignee or requester): always a private note',
  R19: 'a light agent: always a private note',
  R20: 'a #note / #public Mail API line set the visibility',
  R21: 'it contains the text of an earlier private note, so it stays private (leak guard)',
  R24: 'people in To/Cc are added as CCs',
  R25: 'not added: blocklisted, or the CC limit was reached',
  R26: 'an agent in To/Cc: kept as CC, or made a follower (ccs.agent_ccs_become_followers)',
  R27: 'a CC left off the requester\'s (or a CC\'s Reply-all) message is removed',
  R33: 'the sender is not a participant (third party): private note, flagged, ticket warned',
  R35: 'status rules: assigning opens a new ticket; solving needs an assignee',
  R36: 'an agent\'s public reply opens a new ticket',
  R38: 'Mail API command from an agent',
  R39: 'bad Mail API command: ignored, kept as text',
  R40: 'light agents cannot use the Mail API: kept as text',
  R42: 'an auto-reply or bulk mail: a private note flagged automated, or held when it would open a ticket',
  R43: 'a mail loop guard held it',
  R44: 'the sender claims to be staff but is not authenticated: suspended',
  R45: 'the sender\'s domain asks receivers to reject mail failing DMARC: suspended',
};

const SUSPEND_WHY: Record<string, string> = {
  automated_response: 'an auto-reply or bulk mail would have opened a ticket (R42)',
  from_support_address: 'the sender is one of deskgate\'s own support addresses: a mail loop (R43)',
  email_loop: 'too many messages from this sender in the last hour (R43)',
  failed_dmarc: 'the sender\'s domain publishes DMARC p=reject and the message fails DMARC (R45)',
  unverified_agent: 'the sender claims to be staff but is not authenticated (R44)',
};

function threadLine(m: ThreadMatch): string {
  if (m.kind === 'new') return `new ticket (R12: ${WHY.R12})`;
  if (m.kind === 'follow_up') return `follow-up of closed ticket #${m.closedTicketId} (matched by ${m.matchedBy}; R14: ${WHY.R14})`;
  return `reply to ticket #${m.ticketId}: ${m.rule === 'R10' ? `${m.by} ` : ''}(${m.rule}: ${WHY[m.rule]})`;
}

function explainJson(match: ThreadMatch, d: Decision, messageId: string | null) {
  const base = { message_id: messageId, thread: match, action: d.action, rules: d.rules };
  if (d.action === 'suspend') return { ...base, sender: { email: d.author.address, name: d.author.name, role: d.author.role }, suspended: d.reason };
  return {
    ...base,
    sender: { email: d.comment.author.address, name: d.comment.author.name, role: d.comment.author.role },
    ticket_id: d.action === 'add_comment' ? d.ticketId : null,
    ...(d.action === 'create_ticket' ? { new_ticket: { subject: d.subject, requester: d.requester.address, recipient: d.recipient, group: d.group, via: d.via, follow_up_of: d.followUpOf, tags: d.tags } } : {}),
    public: d.comment.public,
    visibility_rule: d.comment.visibilityRule,
    flags: d.comment.flags,
    body: d.comment.body,
    cc_changes: d.ccChanges.map((c) => ({ change: c.change, email: c.address, rule: c.rule, ...(c.reason ? { reason: c.reason } : {}) })),
    mail_api: d.commands.map((c) => ({ line: c.line, applied: !c.error && !c.ignored, ...(c.error ? { error: c.error } : {}) })),
    changes: d.changes,
    warnings: d.warnings,
  };
}

function human(j: ReturnType<typeof explainJson>, match: ThreadMatch): string {
  const out = [`Message ${j.message_id ?? '(no Message-ID)'} from ${j.sender.email} (${j.sender.role})`, `Thread:     ${threadLine(match)}`];
  if ('suspended' in j) {
    const rule = j.rules[0] ?? '';
    out.push(`Decision:   SUSPENDED (${j.suspended}) — ${rule}: ${WHY[rule] ?? SUSPEND_WHY[j.suspended] ?? ''}`);
    return out.join('\n') + '\n';
  }
  if (j.new_ticket) out.push(`New ticket: "${j.new_ticket.subject}" requester ${j.new_ticket.requester}, to ${j.new_ticket.recipient}, group ${j.new_ticket.group ?? '-'}${j.flags.includes('forwarded') ? ` (R15: ${WHY.R15})` : ''}`);
  out.push(`Comment:    ${j.public ? 'PUBLIC' : 'PRIVATE NOTE'} because ${j.visibility_rule}: ${WHY[j.visibility_rule] ?? ''}`);
  if (j.flags.length) out.push(`Flags:      ${j.flags.join(', ')}`);
  for (const c of j.cc_changes) out.push(`CCs:        ${c.change.replace(/_/g, ' ')} ${c.email} (${c.rule}${c.reason ? `: ${c.reason}` : ''})`);
  for (const c of j.mail_api) out.push(`Mail API:   ${c.line} → ${c.applied ? 'applied (R38)' : `not applied: ${c.error}`}`);
  const ch = j.changes;
  if (ch.status) out.push(`Status:     ${ch.status.from} → ${ch.status.to} (${ch.status.rule}${WHY[ch.status.rule] ? `: ${WHY[ch.status.rule]}` : ''})`);
  if (ch.assignee) out.push(`Assignee:   ${ch.assignee.email} (${ch.assignee.rule})`);
  if (ch.group) out.push(`Group:      ${ch.group.name} (${ch.group.rule})`);
  if (ch.requester) out.push(`Requester:  ${ch.requester.address} (${ch.requester.rule})`);
  if (ch.tags) out.push(`Tags:       + ${ch.tags.add.join(' ')} (${ch.tags.rule})`);
  for (const w of j.warnings) out.push(`Warning:    ${w} (R33)`);
  out.push(`Rules:      ${j.rules.join(', ')}`, '', 'Stored text:', ...j.body.split('\n').map((l) => `  ${l}`));
  return out.join('\n') + '\n';
}

export function registerExplain(program: Command): void {
  configOption(program.command('explain <file>').description('dry run: what deskgate would do with a message, and which rules decide it (stores nothing)'))
    .option('--recipient <address...>', 'envelope recipient(s); default: the support addresses in the headers')
    .option('--sender <address>', 'envelope sender')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { config: string; recipient?: string[]; sender?: string; json?: boolean }) => {
      let raw: Buffer;
      try {
        raw = await readFile(file);
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EX_USAGE);
      }
      await withApp(opts.config, async (app, config) => {
        const given = (opts.recipient ?? []).map(normalizeAddress);
        const to = given.length > 0 ? given.filter((a) => app.supportAddressOf(a)) : recipientsFromHeaders(raw, app.supportAddressOf);
        if (to.length === 0) throw new CliError('the message is not addressed to any support address; give --recipient (R5)', EX_NOUSER);
        const parsed = await parseMessage(raw, { replyLine: config.email.reply_line, replyHint: to.some((a) => a.includes('+')) });
        const row = { envelope_to: to, envelope_from: opts.sender ? normalizeAddress(opts.sender) : null, via: 'pipe' as const };
        const { match, decision } = decide(app.ctx, row, parsed);
        const j = explainJson(match, decision, parsed.messageId);
        if (opts.json) printJson(j);
        else process.stdout.write(human(j, match));
      });
    });
}
