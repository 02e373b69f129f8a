import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * R67: the VERP return path of one outbox message, `<local>+<outbox id>-<mac>@<domain>` from
 * `outbound.return_path`. The MAC (first 16 hex of HMAC-SHA256(secret, 'bounce:<id>'), the reply
 * token's key and length, R11) means only deskgate's own return paths are accepted at RCPT and a
 * bounce cannot be forged for another message by changing the number.
 */
export function verpAddress(returnPath: string, outboxId: number, secret: string): string {
  const at = returnPath.lastIndexOf('@');
  return `${returnPath.slice(0, at)}+${outboxId}-${mac(outboxId, secret)}${returnPath.slice(at)}`;
}

function mac(outboxId: number, secret: string): string {
  return createHmac('sha256', secret).update(`bounce:${outboxId}`).digest('hex').slice(0, 16);
}

/**
 * The outbox id a correctly signed return path of `returnPath` names, else undefined. The
 * address is compared lower-cased (R2); the MAC in constant time.
 */
export function verpOutboxId(address: string, returnPath: string, secret: string): number | undefined {
  const a = address.toLowerCase();
  const rp = returnPath.toLowerCase();
  const at = a.lastIndexOf('@');
  const rpAt = rp.lastIndexOf('@');
  if (at <= 0 || a.slice(at) !== rp.slice(rpAt)) return undefined;
  const prefix = `${rp.slice(0, rpAt)}+`;
  const local = a.slice(0, at);
  if (!local.startsWith(prefix)) return undefined;
  const m = /^([0-9]{1,15})-([0-9a-f]{16})$/.exec(local.slice(prefix.length));
  if (!m) return undefined;
  const id = Number(m[1]);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return timingSafeEqual(Buffer.from(mac(id, secret)), Buffer.from(m[2]!)) ? id : undefined;
}
