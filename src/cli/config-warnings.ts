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
  warnings.push(...passwordLoginWarnings(config));
  warnings.push(...returnPathWarnings(config));
  return warnings;
}

/** R67: bounces go to the return path; one in a domain deskgate receives nothing for may never arrive. */
function returnPathWarnings(config: Config): string[] {
  const rp = config.outbound.return_path;
  if (!rp) return ['outbound.return_path is not set: bounces are matched only when they return the notification\'s Message-ID (R67; admin guide, "Bounces and suppression")'];
  const domain = rp.slice(rp.lastIndexOf('@') + 1);
  const domains = new Set(config.support_addresses.map((s) => s.address.slice(s.address.lastIndexOf('@') + 1)));
  if (domains.has(domain)) return [];
  return [`outbound.return_path ${rp} is in ${domain}, no support address's domain: route ${rp.replace('@', '+*@')} to deskgate there, or bounces never arrive (R67)`];
}

/** Providers that turned password logins off (R72): a pass there fails at the first login. */
const OAUTH_ONLY: Array<{ host: RegExp; name: string }> = [
  { host: /(^|\.)(office365\.com|outlook\.com)$/i, name: 'Microsoft 365' },
  { host: /(^|\.)(gmail\.com|googlemail\.com)$/i, name: 'Google Workspace' },
];

function passwordLoginWarnings(config: Config): string[] {
  const provider = (host: string) => OAUTH_ONLY.find((p) => p.host.test(host))?.name;
  const out: string[] = [];
  config.imap.forEach((a, i) => {
    const name = provider(a.host);
    if (name && a.pass !== undefined) out.push(`imap[${i}] (${a.user}@${a.host}) logs in with a password, which ${name} refuses: use oauth2 (admin guide, "OAuth2 mailboxes")`);
  });
  const smtp = config.outbound.smtp;
  const name = smtp && provider(smtp.host);
  if (name && smtp!.auth?.pass !== undefined) out.push(`outbound.smtp (${smtp!.host}) logs in with a password, which ${name} refuses for most tenants: use auth.oauth2 (admin guide, "OAuth2 mailboxes")`);
  return out;
}
