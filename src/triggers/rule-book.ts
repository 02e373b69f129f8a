import type { Action, Automation, Condition, RuleSetConfig, Trigger } from './definitions.js';
import { RECIPIENT_KINDS } from './definitions.js';
import { DEFAULT_AUTOMATIONS, DEFAULT_TRIGGERS } from './defaults.js';
import { compileTemplate } from './templates.js';

export interface RuleProblem {
  path: Array<string | number>;
  message: string;
}

type Rule = Trigger | Automation;

/** The rules in force: defaults, a replacement list, or defaults patched/extended by id. */
export function resolveRuleSet<T extends Rule>(value: RuleSetConfig<T> | undefined, defaults: readonly T[]): T[] {
  if (value === undefined) return defaults.map((d) => ({ ...d }));
  if (Array.isArray(value)) return value;
  const out = value.defaults ? defaults.map((d) => ({ ...d })) : [];
  for (const item of value.items) {
    const at = out.findIndex((r) => r.id === item.id);
    if ('actions' in item) {
      if (at >= 0) out[at] = item as T;
      else out.push(item as T);
    } else if (at >= 0) {
      out[at] = { ...out[at]!, ...item };
    }
  }
  return out;
}

/**
 * R52: an automation must make its own conditions false (or set a tag its conditions exclude),
 * or it would fire again every interval.
 */
export function nullifies(conditions: readonly Condition[], actions: readonly Action[]): boolean {
  return conditions.some((c) => actions.some((a) => {
    const v = typeof c.value === 'string' ? c.value.toLowerCase() : c.value;
    if ('set_status' in a && c.field === 'status') return c.op === 'is' ? a.set_status !== v : a.set_status === v;
    if ('add_tags' in a && c.field === 'tags' && (c.op === 'not_includes' || c.op === 'is_not')) return a.add_tags.map((t) => t.toLowerCase()).includes(String(v));
    if ('remove_tags' in a && c.field === 'tags' && (c.op === 'includes' || c.op === 'is')) return a.remove_tags.map((t) => t.toLowerCase()).includes(String(v));
    if ('set_assignee' in a && c.field === 'assignee') return c.op === 'is' && v === 'absent';
    if ('set_group' in a && c.field === 'group') return (c.op === 'is' && v === 'absent') || (c.op === 'is' && v !== a.set_group.toLowerCase());
    return false;
  }));
}

/** Load-time checks of one rule set; paths are relative to the rule set's config key. */
export function checkRuleSet(value: RuleSetConfig<Rule> | undefined, kind: 'triggers' | 'automations', ctx: { groups: readonly string[]; agents: readonly string[]; staff: readonly string[] }): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const defaults: readonly Rule[] = kind === 'triggers' ? DEFAULT_TRIGGERS : DEFAULT_AUTOMATIONS;
  const items = value === undefined ? [] : Array.isArray(value) ? value : value.items;
  const base: Array<string | number> = value !== undefined && !Array.isArray(value) ? ['items'] : [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const path = [...base, i];
    if (seen.has(item.id)) problems.push({ path: [...path, 'id'], message: `id ${item.id} is used twice` });
    seen.add(item.id);
    if (!('actions' in item)) {
      if (!defaults.some((d) => d.id === item.id)) problems.push({ path: [...path, 'id'], message: `no shipped ${kind === 'triggers' ? 'trigger' : 'automation'} has id ${item.id} (see deskgate ${kind} list)` });
      return;
    }
    const rule = item as Rule;
    rule.actions.forEach((a, j) => {
      const ap = [...path, 'actions', j];
      if ('email_user' in a) {
        if (!(RECIPIENT_KINDS as readonly string[]).includes(a.email_user) && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(a.email_user)) {
          problems.push({ path: [...ap, 'email_user'], message: `email_user takes ${RECIPIENT_KINDS.join(', ')} or an address` });
        }
        for (const field of ['subject', 'body'] as const) {
          try {
            compileTemplate(a[field]);
          } catch (err) {
            problems.push({ path: [...ap, field], message: `template error: ${(err as Error).message.split('\n')[0]}` });
          }
        }
      }
      if ('set_group' in a && !ctx.groups.includes(a.set_group)) problems.push({ path: [...ap, 'set_group'], message: `unknown group "${a.set_group}"` });
      for (const key of ['set_assignee', 'add_follower'] as const) {
        if (key in a) {
          const who = (a as Record<string, string>)[key]!.toLowerCase();
          const allowed = key === 'add_follower' ? ctx.staff : ctx.agents; // light agents may follow (R30), not be assigned
          if (who !== 'current_user' && !allowed.includes(who)) problems.push({ path: [...ap, key], message: `${who} is not a configured ${key === 'add_follower' ? 'agent or light agent' : 'agent'}` });
        }
      }
    });
    if (kind === 'automations') {
      const conds = [...rule.conditions.all, ...rule.conditions.any];
      if (!conds.some((c) => c.field.startsWith('hours_since_'))) problems.push({ path: [...path, 'conditions'], message: 'an automation needs an hours_since_* condition' });
      if (!nullifies(rule.conditions.all, rule.actions)) problems.push({ path: [...path, 'actions'], message: 'no action makes the conditions false (e.g. set_status away from the status condition, or add a tag the conditions exclude): it would fire every interval (R52)' });
    }
  });
  return problems;
}
