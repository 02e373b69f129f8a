import type { Role } from '../shared/domain.js';

export interface SupportAddressInfo {
  address: string;
  name?: string | undefined;
  group?: string | undefined;
}

export interface AgentInfo {
  email: string;
  name?: string | undefined;
  role: 'admin' | 'agent' | 'light_agent';
  groups: readonly string[];
}

/** The people deskgate knows from its config: support addresses (R1) and staff roles (R2). */
export interface Directory {
  supportAddresses: readonly SupportAddressInfo[];
  agents: ReadonlyMap<string, AgentInfo>;
}

export function createDirectory(support: readonly SupportAddressInfo[], agents: readonly AgentInfo[]): Directory {
  return { supportAddresses: support, agents: new Map(agents.map((a) => [a.email, a])) };
}

/** R1: the configured support address that `address` is (plus-tags folded), if any. */
export function supportAddressOf(dir: Directory, address: string): SupportAddressInfo | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = address.slice(0, at);
  const plus = local.indexOf('+');
  const base = `${plus >= 0 ? local.slice(0, plus) : local}@${address.slice(at + 1)}`;
  return dir.supportAddresses.find((s) => s.address === base);
}

/** R2: the role of an address; everyone not configured is an end user. */
export function roleOf(dir: Directory, address: string): Role {
  return dir.agents.get(address)?.role ?? 'end_user';
}

export function isStaff(role: Role): boolean {
  return role !== 'end_user';
}

export function isFullAgent(role: Role): boolean {
  return role === 'agent' || role === 'admin';
}
