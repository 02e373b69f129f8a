import type { Config } from '../config/index.js';
import { resolveRuleSet, DEFAULT_TRIGGERS, type Trigger } from '../triggers/index.js';

/** Things that are valid but probably not what the admin wants; check-config prints them. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const triggers = resolveRuleSet<Trigger>(config.triggers, DEFAULT_TRIGGERS);
  const agents = config.agents.filter((a) => a.role !== 'light_agent').length;
  const allAgents = triggers.find((t) => t.active && t.actions.some((a) => 'email_user' in a && a.email_user === 'all_agents'));
  if (allAgents && agents > 5) warnings.push(`trigger "${allAgents.name}" (${allAgents.id}) is active with ${agents} agents: every agent gets every new ticket (R51)`);
  if (!config.outbound.smtp) warnings.push('outbound.smtp is not set: notifications are queued but not sent');
  return warnings;
}
