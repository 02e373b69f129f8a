import { randomBytes } from 'node:crypto';
import type { TicketsRepo, OutboxRepo, SuppressionsRepo } from '../store/index.js';
import type { Directory } from '../rules/index.js';
import { supportAddressOf, roleOf, isRobotAddress, planPolicy } from '../rules/index.js';
import { applyChanges } from '../changes/index.js';
import { makeReplyToken } from '../thread/index.js';
import { runTriggers, resolveRecipients, compileTemplate, renderTemplate, type Trigger, type UpdateEvent, type Envelope, type PlannedChange, type StaffLookup, type Compiled } from '../triggers/index.js';
import { composeNotification } from '../outbound/compose.js';
import type { TicketState, SuppressionState } from '../shared/domain.js';
import type { Logger } from '../shared/logger.js';

export interface NotifierDeps {
  tickets: TicketsRepo;
  outbox: OutboxRepo;
  /** R68: suppressed addresses get a `suppressed` row instead of mail. */
  suppressions: Pick<SuppressionsRepo, 'suppressedAmong'>;
  directory: Directory;
  triggers: readonly Trigger[];
  /** Groups and the CC blocklist, for the change planner (R25, R30). */
  planSettings: { groups: readonly string[]; ccs: { max: number; blocklist: readonly string[] } };
  replyLine: string;
  secret: string;
  baseUrl: string | undefined;
  ccsEnabled: boolean;
  /** R43: hourly notifications to an end user (or any address that is not staff); past it, held. */
  perRecipientPerHour: number;
  /** R43: the same for agents, admins and light agents (who get every new-ticket and group mail). */
  perStaffPerHour: number;
  logger: Logger;
  /** Called after an outbound row is queued, to wake the sender. */
  onQueued?: () => void;
}

export interface NotifyResult {
  fired: string[];
  queued: number[];
  held: number[];
  /** R68: rows kept for suppressed recipients, never sent. */
  suppressed: number[];
  changes: PlannedChange[];
}

type Comment = Awaited<ReturnType<TicketsRepo['comments']>>[number];

function formatComment(c: Comment): string {
  return `${c.author.name ?? c.author.email}, ${c.createdAt.slice(0, 16).replace('T', ' ')} UTC:\n\n${c.body}`;
}

/** Template variables (R53) for one audience: end users never see a private note (R21). */
function templateVars(t: TicketState, comments: Comment[], audience: Envelope['audience'], event: UpdateEvent, baseUrl: string | undefined, history: boolean) {
  const visible = audience === 'end_user' ? comments.filter((c) => c.public) : comments;
  const latestPublic = [...comments].reverse().find((c) => c.public);
  const latest = audience === 'end_user' ? latestPublic : comments.at(-1);
  return {
    ticket: {
      id: t.id, title: t.subject, status: t.status, url: baseUrl ? `${baseUrl.replace(/\/$/, '')}/tickets/${t.id}` : '',
      requester: { name: t.requester.name ?? t.requester.email, email: t.requester.email },
      assignee: t.assignee ? { name: t.assignee.name ?? t.assignee.email, email: t.assignee.email } : null,
      group: { name: t.group ?? '' },
      ccs: t.ccs.map((c) => (c.name ? `${c.name} <${c.email}>` : c.email)).join(', '),
      tags: t.tags.join(' '),
      latest_comment: latest ? formatComment(latest) : '',
      latest_public_comment: latestPublic ? formatComment(latestPublic) : '',
      comments_formatted: [...visible].reverse().map(formatComment).join('\n\n----\n\n'),
    },
    current_user: event.currentUser ? { name: event.currentUser.name ?? event.currentUser.email, email: event.currentUser.email } : { name: '', email: '' },
    history,
  };
}

/**
 * R46-R58 at one update: runs the triggers, applies their ticket changes (audited as
 * trigger:<id>), renders and queues their mail in the caller's transaction (R59).
 */
export function createNotifier(deps: NotifierDeps) {
  const cache = new Map<string, Compiled>();
  const compiled = (src: string) => {
    let c = cache.get(src);
    if (!c) cache.set(src, (c = compileTemplate(src)));
    return c;
  };
  // Read per update: a reload swaps the snapshot the deps getters return.
  const policy = (): StaffLookup => planPolicy(deps.directory, deps.planSettings);
  const isStaff = (e: string) => roleOf(deps.directory, e) !== 'end_user';
  const log = deps.logger.child({ stage: 'triggers' });

  /** Carries out the plan's field changes through the one executor, audited as trigger:<id> (R49). */
  async function applyPlanned(ticketId: number, changes: PlannedChange[], now: string, actorKind: 'trigger' | 'automation'): Promise<void> {
    for (const ch of changes) {
      const stamp = { ticketId, actor: `${actorKind}:${ch.trigger}`, now };
      const notes = ch.skipped && ch.skipped !== 'already so' ? [{ change: 'trigger_action_skipped', rule: 'R49', value: `${JSON.stringify(ch.action)}: ${ch.skipped}` }] : [];
      await applyChanges(deps.tickets, stamp, ch.changes, { notes });
    }
  }

  type Composed = ReturnType<typeof composeNotification>;
  type Bucket = { queued: number[]; held: number[]; suppressed: number[] };

  /**
   * Queues one composed notification (R59): to the recipients within their hourly cap; a held
   * copy for those past it (R43: enqueue counts the queued ones); a suppressed copy for those on
   * the suppression list (R68), never sent. Returns who was not queued.
   */
  async function queueCopies(composed: Composed, o: { ticketId: number; trigger: string; nowIso: string; suppressed: ReadonlyMap<string, SuppressionState>; result: Bucket; sent: string[] }): Promise<Set<string>> {
    const capOf = (e: string) => (isStaff(e) ? deps.perStaffPerHour : deps.perRecipientPerHour);
    const capped = new Set<string>();
    for (const p of [...composed.to, ...composed.cc]) {
      if (o.suppressed.has(p.email) || (await deps.outbox.countSentTo(p.email, o.nowIso)) >= capOf(p.email)) capped.add(p.email);
    }
    const allowedTo = composed.to.filter((p) => !capped.has(p.email));
    const allowedCc = composed.cc.filter((p) => !capped.has(p.email));
    const queue = async (to: Composed['to'], cc: Composed['cc'], status: keyof Bucket, messageId: string, note: string | null = null) => {
      const id = await deps.outbox.enqueue({ ticketId: o.ticketId, trigger: o.trigger, status, note, from: composed.from, replyTo: composed.replyTo, to, cc, subject: composed.subject,
        body: composed.body, messageId, inReplyTo: composed.inReplyTo, references: composed.references, headers: composed.headers, now: o.nowIso });
      if (status !== 'suppressed') o.sent.push(messageId); // never sent: nothing can answer it
      o.result[status].push(id);
    };
    if (allowedTo.length + allowedCc.length > 0) {
      await queue(allowedTo.length > 0 ? allowedTo : allowedCc.slice(0, 1), allowedTo.length > 0 ? allowedCc : allowedCc.slice(1), 'queued', composed.messageId);
    }
    const everyone = [...composed.to, ...composed.cc];
    const heldPeople = everyone.filter((p) => capped.has(p.email) && !o.suppressed.has(p.email));
    if (heldPeople.length > 0) await queue(heldPeople, [], 'held', composed.messageId.replace('@', `.held@`));
    const barred = everyone.filter((p) => o.suppressed.has(p.email));
    if (barred.length > 0) {
      const why = barred.map((p) => { const s = o.suppressed.get(p.email)!; return `${p.email}: ${s.reason ?? 'suppressed'}${s.code ? ` ${s.code}` : ''} since ${s.since ?? '?'}`; });
      await queue(barred, [], 'suppressed', composed.messageId.replace('@', '.suppressed@'), `suppressed (R68): ${why.join('; ')}`);
    }
    return capped;
  }

  /** Runs one rule set (triggers, or automations) on a ticket: applies changes, queues mail. */
  async function run(rules: readonly Trigger[], actorKind: 'trigger' | 'automation', event: UpdateEvent, ticketId: number, now: Date): Promise<NotifyResult & { event: UpdateEvent }> {
      const nowIso = now.toISOString();
      const start = (await deps.tickets.getState(ticketId))!;
      const plan = runTriggers(rules, start, event, policy(), now);
      await applyPlanned(ticketId, plan.changes, nowIso, actorKind);
      const result = { fired: plan.fired, queued: [] as number[], held: [] as number[], suppressed: [] as number[], changes: plan.changes, event: plan.event };
      if (plan.emails.length === 0) return result;

      // Read again only when the rules changed the ticket (most updates: they did not).
      const ticket = plan.changes.some((c) => c.changes.length > 0) ? (await deps.tickets.getState(ticketId))! : start;
      const comments = await deps.tickets.comments(ticketId);
      const support = supportAddressOf(deps.directory, ticket.recipient) ?? { address: ticket.recipient, name: undefined };
      const token = makeReplyToken(ticketId, deps.secret);
      const owedHistory = await deps.tickets.ccsOwedHistory(ticketId);
      // The ticket's thread as it stood before this update's notifications (R56).
      const refs = await deps.tickets.messageIds(ticketId);
      // R42: everyone a recipient list can name, checked for robots in one read.
      const everyone = [ticket.requester, ticket.assignee, ...ticket.ccs, ...ticket.followers].filter((p) => p !== null).map((p) => p.email)
        .concat([...deps.directory.agents.keys()]);
      const robots = await deps.tickets.robotsAmong(everyone);
      // R68: and for the suppression list, in one read.
      const suppressed = await deps.suppressions.suppressedAmong(everyone);
      const sent: string[] = []; // the notifications' Message-IDs, remembered together below
      for (const email of plan.emails) {
        const envelopes = resolveRecipients(email.action.email_user, ticket, plan.event, {
          ccsEnabled: deps.ccsEnabled,
          agents: [...deps.directory.agents.values()],
          isSupportAddress: (e) => supportAddressOf(deps.directory, e) !== undefined,
          isStaff,
          isRobot: (e) => isRobotAddress(e) || robots.has(e),
        }, { includeAuthor: email.action.include_author });
        for (const env of envelopes) {
          // R28: CCs added by a message get the public history in the first notification they receive.
          const historyFor = env.audience === 'end_user' ? [...env.to, ...env.cc].map((p) => p.email).filter((e) => owedHistory.includes(e)) : [];
          const vars = templateVars(ticket, comments, env.audience, plan.event, deps.baseUrl, historyFor.length > 0);
          const answersSender = plan.event.channel === 'email' && plan.event.currentUser !== null && env.to.some((p) => p.email === plan.event.currentUser!.email);
          const composed = composeNotification({
            ticketId, support: { address: support.address, name: support.name ?? null }, token, to: env.to, cc: env.cc,
            subject: renderTemplate(compiled(email.action.subject), vars), body: renderTemplate(compiled(email.action.body), vars),
            replyLine: deps.replyLine, inReplyTo: plan.event.inboundMessageId ?? refs.at(-1) ?? null, references: refs,
            autoSubmitted: answersSender ? 'auto-replied' : 'auto-generated', unique: randomBytes(9).toString('hex'),
          });
          const capped = await queueCopies(composed, { ticketId, trigger: email.trigger, nowIso, suppressed, result, sent });
          for (const e of historyFor) if (!capped.has(e)) await deps.tickets.clearCcHistory(ticketId, e);
        }
      }
      await deps.tickets.rememberMessageIds(ticketId, sent, 'out', nowIso); // R10: replies to them come back
      log.debug({ event: `${actorKind}s:fired`, ticket_id: ticketId, fired: plan.fired, queued: result.queued.length, held: result.held.length }, 'rules ran');
      if (result.queued.length > 0) deps.onQueued?.();
      return result;
  }

  return {
    /** R46-R50: one update through the triggers. */
    async onUpdate(event: UpdateEvent, ticketId: number, now: Date): Promise<NotifyResult> {
      return run(deps.triggers, 'trigger', event, ticketId, now);
    },
    /**
     * R52: the automations on one ticket at `now`; what they change is then an update like any
     * other and goes through the triggers (R46).
     */
    async onAutomationTick(automations: readonly Trigger[], ticketId: number, now: Date): Promise<NotifyResult> {
      const tick: UpdateEvent = {
        kind: 'updated', channel: 'automation', currentUser: null, comment: null, statusFrom: null, statusChanged: false,
        assigneeChanged: false, groupChanged: false, inboundParticipants: [], inboundMessageId: null,
      };
      const auto = await run(automations, 'automation', tick, ticketId, now);
      // The executor has marked the ticket updated when anything changed.
      const changed = auto.changes.some((c) => c.changes.length > 0);
      if (!changed) return auto;
      const trig = await run(deps.triggers, 'trigger', auto.event, ticketId, now);
      return { fired: [...auto.fired, ...trig.fired], queued: [...auto.queued, ...trig.queued], held: [...auto.held, ...trig.held], suppressed: [...auto.suppressed, ...trig.suppressed], changes: [...auto.changes, ...trig.changes] };
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;
