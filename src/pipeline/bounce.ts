import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow, OutboundRow } from '../store/index.js';
import { isBounceMessage, planBounce, planPolicy, type BouncePlan } from '../rules/index.js';
import { planChanges, applyChanges } from '../changes/index.js';
import { verpOutboxId } from '../shared/verp.js';
import type { PipelineContext } from './context.js';

export type BounceHandled =
  | { kind: 'unmatched'; form: string | null }
  | { kind: 'matched'; ticketId: number; outboxId: number; form: string; plan: BouncePlan; by: 'verp' | 'message_id' };

/** R67: the outbox id a signed VERP recipient of the message names, else null. */
export function verpRecipient(ctx: Pick<PipelineContext, 'bounces' | 'secret'>, envelopeTo: readonly string[]): number | null {
  const rp = ctx.bounces.returnPath;
  if (!rp) return null;
  for (const a of envelopeTo) {
    const id = verpOutboxId(a, rp, ctx.secret);
    if (id !== undefined) return id;
  }
  return null;
}

/** The notification a bounce is about: by its VERP address first, else the returned Message-ID. */
async function bouncedRow(ctx: PipelineContext, verpId: number | null, parsed: ParsedMessage): Promise<{ row: OutboundRow; by: 'verp' | 'message_id' } | null> {
  const byVerp = verpId !== null ? await ctx.outbox.byId(verpId) : undefined;
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
  const verpId = verpRecipient(ctx, row.envelope_to);
  if (!isBounceMessage({ bounce: parsed.bounce, verpOutboxId: verpId, automated, skip: row.skip_checks ?? [] })) return null;
  const found = parsed.bounce ? await bouncedRow(ctx, verpId, parsed) : null;
  // Mail at the return path that is no report (or a report of nothing sent here): an admin looks.
  if (!found || !parsed.bounce) return { kind: 'unmatched', form: parsed.bounce?.form ?? null };
  const { row: sent, by } = found;
  const recipients = [...sent.to, ...sent.cc].map((p) => p.email.toLowerCase());
  const states = await ctx.suppressions.states(recipients);
  const plan = planBounce(parsed.bounce, { id: sent.id, ticketId: sent.ticket_id, recipients }, states, ctx.bounces.softBounceLimit, now);
  if (plan.outboxError) await ctx.outbox.markBounced(sent.id, plan.outboxError);
  for (const s of plan.states) await ctx.suppressions.put(s, now);
  await ctx.tickets.lock(sent.ticket_id);
  const before = await ctx.tickets.getState(sent.ticket_id);
  if (before) {
    const requests = plan.warn ? [{ kind: 'add_warning' as const, warning: 'notification_bounced', rule: 'R67' }] : [];
    const changes = planChanges(before, requests, { email: null, role: null }, planPolicy(ctx.directory, ctx.settings), now).changes;
    const actor = parsed.from[0]?.address || 'mailer-daemon';
    await applyChanges(ctx.tickets, { ticketId: sent.ticket_id, actor, now }, changes, { notes: plan.notes });
  }
  return { kind: 'matched', ticketId: sent.ticket_id, outboxId: sent.id, form: parsed.bounce.form, plan, by };
}
