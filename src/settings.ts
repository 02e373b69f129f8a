import type { Config } from './config/index.js';
import { resolveRuleSet, DEFAULT_TRIGGERS, DEFAULT_AUTOMATIONS, type Trigger, type Automation } from './triggers/index.js';
import { createDirectory, type Directory, type RulesSettings } from './rules/index.js';

/**
 * Everything a SIGHUP reload may change, derived from the config in one place. A snapshot is
 * frozen: a reload builds a new one and swaps it in, and readers (the pipeline context, the
 * notifier) fetch the current one on each use instead of having their objects rewritten.
 */
export interface Settings {
  readonly config: Config;
  readonly directory: Directory;
  readonly triggers: Trigger[];
  readonly automations: Automation[];
  readonly rules: RulesSettings;
  readonly trust: { verify: boolean; requireAuthenticatedAgents: boolean; trustedAuthservId: string | undefined };
  readonly limits: { perSenderPerHour: number; perRecipientPerHour: number; perStaffPerHour: number };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

export function settingsOf(config: Config): Settings {
  return deepFreeze({
    config,
    directory: createDirectory(config.support_addresses, config.agents),
    triggers: resolveRuleSet<Trigger>(config.triggers, DEFAULT_TRIGGERS),
    automations: resolveRuleSet<Automation>(config.automations, DEFAULT_AUTOMATIONS),
    rules: {
      thirdPartyReplies: config.email.third_party_replies,
      useReplyToAsRequester: config.email.use_reply_to_as_requester,
      agentForwarding: config.email.agent_forwarding,
      ccs: {
        enabled: config.ccs.enabled, endUsersCanAdd: config.ccs.end_users_can_add, agentCcsBecomeFollowers: config.ccs.agent_ccs_become_followers,
        max: config.ccs.max, blocklist: config.ccs.blocklist,
      },
      groups: config.groups.map((g) => g.name),
    },
    trust: { verify: config.trust.verify, requireAuthenticatedAgents: config.trust.require_authenticated_agents, trustedAuthservId: config.trust.trusted_authserv_id },
    limits: {
      perSenderPerHour: config.limits.per_sender_per_hour,
      perRecipientPerHour: config.limits.notifications_per_recipient_per_hour,
      perStaffPerHour: config.limits.notifications_per_staff_per_hour,
    },
  });
}

/** Keys that only a restart applies (sockets, files and threads are set up from them at start). */
// email.reply_line: the parser threads cut replies at it, and notifications must keep writing the line they cut at.
const RESTART_KEYS = ['data_dir', 'smtp', 'lmtp', 'imap', 'metrics', 'outbound', 'dns', 'processing', 'secret', 'automations_interval', 'log', 'email.reply_line', 'store'] as const;

function keyChanged(a: Config, b: Config, key: string): boolean {
  const get = (c: Config) => key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], c);
  return JSON.stringify(get(a)) !== JSON.stringify(get(b));
}

/** The keys whose change a reload cannot apply. */
export function keysNeedingRestart(from: Config, to: Config): string[] {
  return RESTART_KEYS.filter((k) => keyChanged(from, to, k));
}
