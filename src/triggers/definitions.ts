import { z } from 'zod';
import { isValidTag } from '../shared/domain.js';

/**
 * The YAML shape of triggers (R47-R49) and automations (R52). Conditions are
 * `{ field, op, value }`; actions are one-key objects, as in the hosted helpdesks' exports.
 */
const TICKET_FIELDS = ['status', 'status_changed', 'status_changed_from', 'status_changed_to', 'assignee', 'assignee_changed', 'group', 'group_changed',
  'tags', 'via', 'recipient', 'subject_contains', 'is', 'comment', 'current_user', 'requester_email', 'requester_domain', 'channel'] as const;
const TIME_FIELDS = ['hours_since_created', 'hours_since_updated', 'hours_since_status_changed', 'hours_since_solved', 'hours_since_assigned'] as const;
const OPS = ['is', 'is_not', 'includes', 'not_includes', 'gte', 'lt'] as const;

const conditionSchema = z.object({
  field: z.enum([...TICKET_FIELDS, ...TIME_FIELDS]),
  op: z.enum(OPS).default('is'),
  value: z.union([z.string(), z.number(), z.boolean()]),
}).strict().superRefine((c, ctx) => {
  const timeField = (TIME_FIELDS as readonly string[]).includes(c.field);
  if (timeField && !['gte', 'lt'].includes(c.op)) ctx.addIssue({ code: 'custom', path: ['op'], message: `${c.field} takes op gte or lt` });
  if (timeField && typeof c.value !== 'number') ctx.addIssue({ code: 'custom', path: ['value'], message: `${c.field} takes a number of hours` });
  if (!timeField && ['gte', 'lt'].includes(c.op)) ctx.addIssue({ code: 'custom', path: ['op'], message: `op ${c.op} is only for hours_since_* fields` });
  if (['includes', 'not_includes'].includes(c.op) && !['tags', 'subject_contains'].includes(c.field)) ctx.addIssue({ code: 'custom', path: ['op'], message: `op ${c.op} is only for tags` });
});

export const RECIPIENT_KINDS = ['requester', 'requester_and_ccs', 'assignee', 'group', 'all_agents', 'followers'] as const;
const status = z.enum(['open', 'pending', 'solved', 'closed']);
const tag = z.string().refine(isValidTag, { message: 'tags are single words (letters, digits, _ . : -)' });

const actionSchema = z.union([
  // include_author: the receipt (R51.1) goes to the requester who wrote; every other copy skips its author (R50).
  z.object({ email_user: z.string().min(1), subject: z.string().min(1), body: z.string().min(1), include_author: z.boolean().default(false) }).strict(),
  z.object({ set_status: status }).strict(),
  z.object({ set_assignee: z.string().min(1) }).strict(),
  z.object({ set_group: z.string().min(1) }).strict(),
  z.object({ add_tags: z.array(tag).min(1) }).strict(),
  z.object({ remove_tags: z.array(tag).min(1) }).strict(),
  z.object({ add_follower: z.string().min(1) }).strict(),
]);

const ruleBase = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'ids are lower-case words with - or _'),
  name: z.string().min(1),
  active: z.boolean().default(true),
  conditions: z.object({ all: z.array(conditionSchema).default([]), any: z.array(conditionSchema).default([]) }).strict(),
  actions: z.array(actionSchema).min(1),
};
export const triggerSchema = z.object(ruleBase).strict();
export const automationSchema = z.object(ruleBase).strict();

/** A patch of a shipped rule by id, e.g. `{ id: notify-all-agents-received, active: true }`. */
const patchSchema = z.object({ id: z.string(), name: z.string().optional(), active: z.boolean().optional() }).strict();

/**
 * `triggers:` (and `automations:`) in the config: omitted → the shipped defaults; a list →
 * replaces them; `{ defaults: true, items: [...] }` → the defaults, patched or extended by id.
 */
export const ruleSetSchema = <T extends z.ZodTypeAny>(item: T) => z.union([
  z.array(item),
  z.object({ defaults: z.boolean().default(true), items: z.array(z.union([item, patchSchema])).default([]) }).strict(),
]);

export type Condition = z.output<typeof conditionSchema>;
export type Action = z.output<typeof actionSchema>;
export type EmailAction = Extract<Action, { email_user: string }>;
export type Trigger = z.output<typeof triggerSchema>;
export type Automation = z.output<typeof automationSchema>;
export type RuleSetConfig<T> = T[] | { defaults: boolean; items: Array<T | { id: string; name?: string; active?: boolean }> };
