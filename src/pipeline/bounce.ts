import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow, OutboundRow } from '../store/index.js';
import { isBounceMessage, planBounce, planPolicy, supportAddressOf, type BouncePlan } from '../rules/index.js';
import { planChanges, applyChanges } from '../changes/index.js';
import { verpParts, verpRecipient, type VerpParts } from '../shared/verp.js';
import type { PipelineContext } from './context.js';

export type BounceHandled =
  | { kind: 'unmatched'; form: string | null }
  /** No report, at the return path of a notification: an answer to it (an auto-reply), processed as mail to its support address. */
  | { kind: 'mail'; envelopeTo: string[] }
  | { kind: 'matched'; ticketId: number; outboxId: number; form: string; plan: BouncePlan; by: 'verp' | 'message_id' };

/** R67: the parts of a signed VERP recipient of the message, else null. */
export function verpOf(ctx: Pick<PipelineContext, 'bounces' | 'secret'>, envelopeTo: readonly string[]): VerpParts | null {
  const rp = ctx.bounces.returnPath;
  if (!rp) return null;
  for (const a of envelopeTo) {
    const parts = verpParts(a, rp, ctx.secret);
    if (parts) return parts;
  }
  return null;
}

/** The notification a bounce is about: by its VERP address first, else the returned Message-ID. */
async function bouncedRow(ctx: PipelineContext, verp: VerpParts | null, parsed: ParsedMessage): Promise<{ row: OutboundRow; by: 'verp' | 'message_id' } | null> {
  const byVerp = verp ? await ctx.outbox.byId(verp.outboxId) : undefined;
  if (byVerp) return { row: byVerp, by: 'verp' };
  const id = parsed.bounce?.originalMessageId;
  const byId = id ? await ctx.outbox.byMessageId(id) : undefined;
  return byId ? { row: byId, by: 'message_id' } : null;
}

/**
 * R67/R68 in the caller's transaction: null when the message is no bounce (it goes on to
 * threading and the rules). A matched bounce marks its outbox row, warns and audits its ticket
 * and updates the suppression list; it is never a comment and never handed to the triggers, so
 * it is never answered. The caller marks the intake row (suspended when unmatched).
 */
export async function handleBounce(ctx: PipelineContext, row: Pick<IntakeRow, 'envelope_to'> & { skip_checks?: readonly string[] | undefined }, parsed: ParsedMessage, automated: string | null, now: string): Promise<BounceHandled | null> {
  const verp = verpOf(ctx, row.envelope_to);
  if (!isBounceMessage({ bounce: parsed.bounce, verpOutboxId: verp?.outboxId ?? null, automated, skip: row.skip_checks ?? [] })) return null;
  const found = await bouncedRow(ctx, verp, parsed);
  // RFC 3834 auto-replies answer the envelope sender: at a return path of ours, that is an
  // answer to the notification, and goes to its support address like any (R42 then applies).
  if (found && !parsed.bounce) return { kind: 'mail', envelopeTo: [found.row.from.email] };
  // A report of nothing sent here (or mail at the return path of a row that is gone): an admin looks.
  if (!found || !parsed.bounce) return { kind: 'unmatched', form: parsed.bounce?.form ?? null };
  const { row: sent, by } = found;
  const recipients = [...sent.to, ...sent.cc].map((p) => p.email.toLowerCase());
  // The ticket first, as inbound mail locks it before the suppression list (R71: no deadlock).
  await ctx.tickets.lock(sent.ticket_id);
  const states = await ctx.suppressions.states(recipients);
  // R68: the return path says whose copy came back; a report that reached a support address
  // instead may be forged by anyone who saw the Message-ID, so with a return path it suppresses no one.
  const only = by === 'verp' && verp ? verpRecipient(verp, recipients, ctx.secret) ?? null : null;
  const trust = by === 'verp' ? { only } : { suppress: !ctx.bounces.returnPath };
  const plan = planBounce(parsed.bounce, { id: sent.id, ticketId: sent.ticket_id, recipients }, states, ctx.bounces.softBounceLimit, now, trust);
  if (plan.outboxError && !(await ctx.outbox.markBounced(sent.id, plan.outboxError))) {
    plan.notes.push({ change: 'outbox_not_bounced', rule: 'R67', value: `outbox ${sent.id} was ${sent.status}, not sent: left as it was` });
  }
  for (const s of plan.states) await ctx.suppressions.put(s, now);
  const before = await ctx.tickets.getState(sent.ticket_id);
  if (before) {
    const requests = plan.warn ? [{ kind: 'add_warning' as const, warning: 'notification_bounced', rule: 'R67' }] : [];
    const changes = planChanges(before, requests, { email: null, role: null }, planPolicy(ctx.directory, ctx.settings), now).changes;
    const actor = parsed.from[0]?.address || 'mailer-daemon';
    await applyChanges(ctx.tickets, { ticketId: sent.ticket_id, actor, now }, changes, { notes: plan.notes });
  }
  return { kind: 'matched', ticketId: sent.ticket_id, outboxId: sent.id, form: parsed.bounce.form, plan, by };
}

/**
 * R41 with R67: mail held as `unmatched_bounce` and released by an admin is processed as mail;
 * when it reached only a return path (of a row that is gone), it goes to the first support
 * address, as mail that names none does in IMAP mode.
 */
export function releasedEnvelope(ctx: Pick<PipelineContext, 'directory' | 'bounces' | 'secret'>, row: Pick<IntakeRow, 'envelope_to'> & { skip_checks?: readonly string[] | undefined }): string[] | null {
  if (!(row.skip_checks ?? []).includes('unmatched_bounce')) return null;
  if (row.envelope_to.some((a) => supportAddressOf(ctx.directory, a))) return null;
  if (!verpOf(ctx, row.envelope_to)) return null;
  const first = ctx.directory.supportAddresses[0];
  return first ? [first.address] : null;
}
