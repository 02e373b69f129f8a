/**
 * Address normalisation (R2): the whole address is lower-cased, which is the common practice
 * (domains are case-insensitive; local parts are in theory case-sensitive, but no mail system a
 * helpdesk meets treats them so).
 */
export function normalizeAddress(address: string): string {
  return address.trim().replace(/^<|>$/g, '').toLowerCase();
}

function splitAddress(address: string): { local: string; domain: string } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return undefined;
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/** A syntactically plausible mailbox address: one @, no spaces or control characters, no brackets. */
export function isPlausibleAddress(address: string): boolean {
  if (address.length > 320) return false;
  if (/[\s<>()[\]\\,;:"\u0000-\u001f\u007f]/.test(address)) return false;
  const parts = splitAddress(address);
  if (!parts || parts.local.includes('@')) return false;
  return parts.domain.includes('.') || parts.domain === 'localhost';
}

/** A host name or address on this machine (where a secret may travel without TLS). */
export function isLoopbackHost(host: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i.test(host);
}
