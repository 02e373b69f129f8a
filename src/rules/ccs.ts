import type { Person, Role } from '../shared/domain.js';
import { isBlocklisted } from './status.js';
import { roleOf, supportAddressOf, type Directory } from './people.js';

export interface CcPolicy {
  enabled: boolean;
  endUsersCanAdd: boolean;
  agentCcsBecomeFollowers: boolean;
  max: number;
  blocklist: readonly string[];
}

export interface CcChange {
  change: 'cc_added' | 'follower_added' | 'cc_removed' | 'cc_not_added';
  address: string;
  name: string;
  rule: string;
  reason?: string;
}

/** Who the sender is to the ticket, as the CC rules see it. */
export type SenderKind = 'agent' | 'light_agent' | 'requester' | 'cc' | 'third_party';

export interface CcInput {
  senderKind: SenderKind;
  sender: string;
  requester: string;
  ccs: readonly Person[];
  followers: readonly Person[];
  /** From, To and Cc of the message. */
  from: readonly { address: string; name: string }[];
  recipients: readonly { address: string; name: string }[];
}

/**
 * R23-R27: CCs added from To/Cc by those allowed to (R24), never the people R25 lists, agents
 * per R26, and CCs left off an end user's message removed as R27 says. Followers never come
 * from email (R30) except as R26's setting turns agent CCs into followers.
 */
export function decideCcChanges(input: CcInput, dir: Directory, policy: CcPolicy): CcChange[] {
  const changes: CcChange[] = [];
  const ccSet = new Set(input.ccs.map((c) => c.email));
  const followerSet = new Set(input.followers.map((f) => f.email));

  const mayAdd = policy.enabled && (input.senderKind === 'agent' || ((input.senderKind === 'requester' || input.senderKind === 'cc') && policy.endUsersCanAdd));
  if (mayAdd) {
    let count = ccSet.size;
    const seen = new Set<string>();
    for (const r of input.recipients) {
      const a = r.address;
      if (seen.has(a)) continue;
      seen.add(a);
      if (supportAddressOf(dir, a) || a === input.requester || a === input.sender || ccSet.has(a) || followerSet.has(a)) continue;
      if (isBlocklisted(a, policy.blocklist)) {
        changes.push({ change: 'cc_not_added', address: a, name: r.name, rule: 'R25', reason: 'blocklisted' });
        continue;
      }
      const role: Role = roleOf(dir, a);
      if (role !== 'end_user' && policy.agentCcsBecomeFollowers) {
        changes.push({ change: 'follower_added', address: a, name: r.name, rule: 'R26' });
        followerSet.add(a);
        continue;
      }
      if (count >= policy.max) {
        changes.push({ change: 'cc_not_added', address: a, name: r.name, rule: 'R25', reason: `limit of ${policy.max} CCs` });
        continue;
      }
      changes.push({ change: 'cc_added', address: a, name: r.name, rule: role === 'end_user' ? 'R24' : 'R26' });
      ccSet.add(a);
      count++;
    }
  }

  // R27: only an end user who is the requester, or a CC writing with the requester present.
  const onMessage = new Set([...input.from, ...input.recipients].map((x) => x.address));
  const mayRemove = input.senderKind === 'requester' || (input.senderKind === 'cc' && onMessage.has(input.requester));
  if (mayRemove) {
    for (const cc of input.ccs) {
      if (!onMessage.has(cc.email)) changes.push({ change: 'cc_removed', address: cc.email, name: cc.name ?? '', rule: 'R27' });
    }
  }
  return changes;
}
