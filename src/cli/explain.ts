import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { withReadOnlyApp, configOption, CliError, EX_NOUSER, EX_USAGE } from './context.js';
import { printJson, collect } from './format.js';
import { parseMessage, type ParsedMessage } from '../parse/index.js';
import { decide, applyDecision, type PipelineContext } from '../pipeline/index.js';
import { automatedOf } from '../pipeline/decide.js';
import { normalizeAddress } from '../shared/addresses.js';
import { handleBounce, type BounceHandled } from '../pipeline/bounce.js';
import { recipientsFromHeaders } from '../ingest/recipients.js';
import { trustedAuthResults, type AuthOutcome, type AuthSummary } from '../trust/index.js';
import type { App } from '../compose.js';
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

interface ExplainOptions { config: string; recipient: string[]; sender?: string; clientIp?: string; helo?: string; json?: boolean }
type DecideRow = Parameters<typeof decide>[1];

/** The R44 check as explain ran it: a verdict only when one was computed. */
interface TrustReport {
  json: { checked: boolean; spf: string | null; dkim: string | null; dmarc: string | null; if_failed?: { action: string; suspended?: string } };
  /** How it was checked, or why it was not: for the human output. */
  note: string;
}

const NOT_CHECKED = { checked: false, spf: null, dkim: null, dmarc: null } as const;
/** What a failed check looks like to the rules: used to say what a failure would do. */
const FAILED: AuthOutcome = { spf: 'fail', dkim: 'fail', dmarc: 'fail', arc: 'none', dmarcPolicy: null };

const verdict = (a: AuthSummary) => ({ checked: true, spf: a.spf, dkim: a.dkim, dmarc: a.dmarc });

/**
 * R44 as the real intake would check it. With --client-ip the message is checked as SMTP would
 * (SPF for the client and MAIL FROM, DKIM, DMARC); piped mail carrying the trusted server's
 * Authentication-Results is judged by them. Otherwise nothing was checked: the rules are shown
 * as if the sender passed, and what a failure would do is said, never a made-up verdict.
 */
async function checkTrust(app: App, raw: Buffer, parsed: ParsedMessage, row: DecideRow, opts: ExplainOptions) {
  const ctx = app.ctx;
  if (!ctx.trust.verify) return { row, smtpAuth: null, trust: { json: { ...NOT_CHECKED }, note: 'not checked (trust.verify is off)' } };
  if (opts.clientIp) {
    if (!row.envelope_from) throw new CliError('--client-ip needs --sender (the SMTP MAIL FROM address)', EX_USAGE);
    const helo = opts.helo ?? null;
    const smtpAuth = await ctx.authenticate(raw, { ip: opts.clientIp, helo, sender: row.envelope_from });
    const note = `checked as SMTP would: client ${opts.clientIp}, HELO ${helo ?? '(none)'}, MAIL FROM ${row.envelope_from}`;
    return { row: { ...row, via: 'smtp' as const }, smtpAuth, trust: { json: verdict(smtpAuth), note } };
  }
  const header = trustedAuthResults(parsed.trust.authenticationResults, ctx.trust.trustedAuthservId);
  if (header) return { row, smtpAuth: null, trust: { json: verdict(header), note: `from the Authentication-Results of ${ctx.trust.trustedAuthservId}` } };
  const failed = (await decide(ctx, { ...row, via: 'smtp', envelope_from: row.envelope_from ?? parsed.from[0]?.address ?? null }, parsed, FAILED)).decision;
  const ifFailed = failed.action === 'suspend' ? { action: failed.action, suspended: failed.reason } : { action: failed.action };
  const note = 'not checked (give --client-ip/--sender); decided as if the sender passed. '
    + (failed.action === 'suspend'
      ? `If it fails, the message would be suspended (${failed.reason}, ${failed.rule})`
      : 'A failed check would not change this decision, unless the sender\'s domain publishes DMARC p=reject (then it is suspended: failed_dmarc, R45)');
  return { row: { ...row, skip_checks: ['unverified_agent'] }, smtpAuth: null, trust: { json: { ...NOT_CHECKED, if_failed: ifFailed }, note } };
}

interface Notification { trigger: string; to: string[]; cc: string[]; subject: string; status: string }
interface DryRun { triggers: string[]; notifications: Notification[] }

/**
 * Runs the real apply path and the triggers inside a transaction, reads back the notifications
 * it queued, then rolls everything back: what it shows is what would happen, and nothing is
 * stored (no file is written either: attachments are stored by the intake, not here).
 */
async function dryRun(app: App, row: DecideRow, parsed: ParsedMessage, decided: Awaited<ReturnType<typeof decide>>): Promise<DryRun> {
  const d = decided.decision;
  if (d.action === 'suspend') return { triggers: [], notifications: [] };
  const out: DryRun = { triggers: [], notifications: [] };
  const outboxIds: number[] = [];
  const notify: PipelineContext['notify'] = async (event, ticketId, now) => {
    const r = await app.notifier.onUpdate(event, ticketId, now);
    out.triggers.push(...r.fired);
    outboxIds.push(...r.queued, ...r.held);
  };
  // The app's context with only notify replaced (its settings stay live getters).
  const ctx = Object.create(app.ctx, { notify: { value: notify } }) as PipelineContext;
  // explain opens the store read-only like every command that only looks; the dry run alone
  // writes, inside a transaction that is always rolled back.
  await app.sql.tx(async () => {
      // No intake row: this message is not stored, so the comment points at none.
      await applyDecision(ctx, { id: null as unknown as number, via: row.via }, parsed, d, ctx.clock.now().toISOString(), decided.auth ? { ...decided.auth } : null);
      const rows = outboxIds.length > 0 ? (await app.outbox.byIds(outboxIds)) : [];
      out.notifications = rows.map((r) => ({ trigger: r.trigger, to: r.to.map((p) => p.email), cc: r.cc.map((p) => p.email), subject: r.subject, status: r.status }));
  }, { rollback: true });
  return out;
}

function explainJson(match: ThreadMatch, d: Decision, messageId: string | null, trust: TrustReport['json'], dry: DryRun) {
  const base = { message_id: messageId, thread: match, action: d.action, rules: d.rules, trust, triggers: dry.triggers, notifications: dry.notifications };
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

type ExplainJson = ReturnType<typeof explainJson>;

function trustLine(j: ExplainJson, note: string): string {
  const t = j.trust;
  return `Trust:      ${t.checked ? `SPF ${t.spf}, DKIM ${t.dkim}, DMARC ${t.dmarc} (${note})` : note}`;
}

function triggerLines(j: ExplainJson, names: Map<string, string>): string[] {
  if (j.action === 'suspend') return ['Triggers:   none (a suspended message changes no ticket)'];
  const out = [`Triggers:   ${j.triggers.length > 0 ? j.triggers.map((id) => `${id} (${names.get(id) ?? id})`).join(', ') : 'none would fire'}`];
  for (const n of j.notifications) {
    const held = n.status === 'held' ? ' (held: over limits.notifications_per_recipient_per_hour, R43)' : '';
    out.push(`Notify:     ${n.trigger} → To ${n.to.join(', ')}${n.cc.length > 0 ? `; Cc ${n.cc.join(', ')}` : ''}; Subject "${n.subject}"${held}`);
  }
  return out;
}

function human(j: ExplainJson, match: ThreadMatch, trustNote: string, names: Map<string, string>): string {
  const out = [`Message ${j.message_id ?? '(no Message-ID)'} from ${j.sender.email} (${j.sender.role})`, trustLine(j, trustNote), `Thread:     ${threadLine(match)}`];
  if ('suspended' in j) {
    const rule = j.rules[0] ?? '';
    out.push(`Decision:   SUSPENDED (${j.suspended}) — ${rule}: ${WHY[rule] ?? SUSPEND_WHY[j.suspended] ?? ''}`, ...triggerLines(j, names));
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
  out.push(...triggerLines(j, names));
  out.push(`Rules:      ${j.rules.join(', ')}`, '', 'Stored text:', ...j.body.split('\n').map((l) => `  ${l}`));
  return out.join('\n') + '\n';
}

/** R67/R68: what the bounce path makes of the message, run in a transaction rolled back. */
async function dryBounce(app: App, row: DecideRow, parsed: ParsedMessage): Promise<BounceHandled | null> {
  let handled: BounceHandled | null = null;
  await app.sql.tx(async () => { handled = await handleBounce(app.ctx, row, parsed, automatedOf(row, parsed), app.ctx.clock.now().toISOString()); }, { rollback: true });
  return handled;
}

function bounceJson(h: Exclude<BounceHandled, { kind: 'mail' }>, row: DecideRow, parsed: ParsedMessage) {
  const base = { message_id: parsed.messageId, sender: parsed.from[0]?.address ?? row.envelope_from, form: parsed.bounce?.form ?? null, recipients: parsed.bounce?.recipients ?? [], original_message_id: parsed.bounce?.originalMessageId ?? null };
  if (h.kind === 'unmatched') return { ...base, action: 'suspend' as const, suspended: 'unmatched_bounce', rules: ['R67'] };
  return {
    ...base, action: 'bounce' as const, rules: ['R67', 'R68'], outbox_id: h.outboxId, ticket_id: h.ticketId, matched_by: h.by,
    outbox_status: h.plan.outboxError ? 'bounced' : null, warning: h.plan.warn ? 'notification_bounced' : null,
    suppressed: h.plan.effects.filter((e) => e.suppressed).map((e) => e.address!),
  };
}

function bounceHuman(b: ReturnType<typeof bounceJson>): string {
  const who = b.recipients.map((r) => `${r.address} ${r.action} ${r.status}${r.diagnostic ? ` (${r.diagnostic})` : ''}`);
  const out = [`Message ${b.message_id ?? '(no Message-ID)'} from ${b.sender ?? '<>'}`, `Bounce:     ${b.form ?? 'not a report'} (R67)${who.length ? `: ${who.join('; ')}` : ''}`];
  if (b.action === 'suspend') out.push('Decision:   SUSPENDED (unmatched_bounce) — R67: a bounce of nothing sent here, or mail at the return path that is no report');
  else {
    out.push(`Decision:   BOUNCE of outbox ${b.outbox_id} (ticket ${b.ticket_id}, matched by ${b.matched_by === 'verp' ? 'its return path' : 'the returned Message-ID'}): never a comment, never answered`);
    if (b.outbox_status) out.push(`Outbox:     ${b.outbox_id} → bounced; ticket warning notification_bounced`);
    for (const a of b.suppressed) out.push(`Suppress:   ${a} (R68)`);
  }
  return out.join('\n') + '\n';
}

export function registerExplain(program: Command): void {
  configOption(program.command('explain <file>').description('dry run: what deskgate would do with a message, which rules decide it and which notifications it would queue (stores nothing)'))
    // Repeatable rather than variadic, so the option does not swallow FILE.
    .option('--recipient <address>', 'envelope recipient (repeatable); default: the support addresses in the headers', collect, [] as string[])
    .option('--sender <address>', 'envelope sender (SMTP MAIL FROM)')
    .option('--client-ip <ip>', 'connecting IP: with --sender, checks SPF/DKIM/DMARC as SMTP intake would (R44)')
    .option('--helo <name>', 'the client\'s HELO/EHLO name, for the SPF check')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: ExplainOptions) => {
      let raw: Buffer;
      try {
        raw = await readFile(file);
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EX_USAGE);
      }
      await withReadOnlyApp(opts.config, async (app, config) => {
        const given = opts.recipient.map(normalizeAddress);
        const to = given.length > 0 ? given.filter((a) => app.recipientOf(a)) : recipientsFromHeaders(raw, app.recipientOf);
        if (to.length === 0) throw new CliError('the message is not addressed to any support address; give --recipient (R5)', EX_NOUSER);
        const parsed = await parseMessage(raw, { replyLine: config.email.reply_line, replyHint: to.some((a) => a.includes('+')) });
        const envelope: DecideRow = { envelope_to: to, envelope_from: opts.sender ? normalizeAddress(opts.sender) : null, via: 'pipe' };
        const bounce = await dryBounce(app, envelope, parsed);
        if (bounce && bounce.kind !== 'mail') {
          const b = bounceJson(bounce, envelope, parsed);
          return void (opts.json ? printJson(b) : process.stdout.write(bounceHuman(b)));
        }
        // An auto-reply to a return path of ours is mail to the notification's support address (R67).
        const { row, smtpAuth, trust } = await checkTrust(app, raw, parsed, bounce ? { ...envelope, envelope_to: bounce.envelopeTo } : envelope, opts);
        const decided = await decide(app.ctx, row, parsed, smtpAuth);
        const j = explainJson(decided.match, decided.decision, parsed.messageId, trust.json, await dryRun(app, row, parsed, decided));
        if (opts.json) printJson(j);
        else process.stdout.write(human(j, decided.match, trust.note, new Map(app.triggers.map((t) => [t.id, t.name]))));
      });
    });
}
