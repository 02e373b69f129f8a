import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * R67: the VERP return path of one outbox message to one recipient,
 * `<local>+<outbox id>-<signature>@<domain>` from `outbound.return_path`. The signature is 32
 * hex digits: the first 16 sign the outbox id (HMAC-SHA256 of `bounce:<id>` under the
 * reply-token key, R11), so RCPT accepts only deskgate's own return paths and a number cannot be
 * changed; the last 16 sign the recipient (`bounce:<id>:<address>`), so a bounce says whose mail
 * came back, and someone who saw their own copy's return path can speak only for themselves.
 */
export function verpAddress(returnPath: string, outboxId: number, recipient: string, secret: string): string {
  const at = returnPath.lastIndexOf('@');
  return `${returnPath.slice(0, at)}+${outboxId}-${mac(`bounce:${outboxId}`, secret)}${mac(`bounce:${outboxId}:${recipient.toLowerCase()}`, secret)}${returnPath.slice(at)}`;
}

function mac(what: string, secret: string): string {
  return createHmac('sha256', secret).update(what).digest('hex').slice(0, 16);
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A return path of `returnPath` whose outbox id is correctly signed: the id and the recipient's tag. */
export interface VerpParts { outboxId: number; recipientTag: string }

/** The parts of a correctly signed return path of `returnPath`, else undefined (R2: compared lower-cased). */
export function verpParts(address: string, returnPath: string, secret: string): VerpParts | undefined {
  const a = address.toLowerCase();
  const rp = returnPath.toLowerCase();
  const at = a.lastIndexOf('@');
  const rpAt = rp.lastIndexOf('@');
  if (at <= 0 || a.slice(at) !== rp.slice(rpAt)) return undefined;
  const prefix = `${rp.slice(0, rpAt)}+`;
  const local = a.slice(0, at);
  if (!local.startsWith(prefix)) return undefined;
  const m = /^([0-9]{1,15})-([0-9a-f]{16})([0-9a-f]{16})$/.exec(local.slice(prefix.length));
  if (!m) return undefined;
  const id = Number(m[1]);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return same(mac(`bounce:${id}`, secret), m[2]!) ? { outboxId: id, recipientTag: m[3]! } : undefined;
}

/** The outbox id a correctly signed return path names, else undefined. */
export function verpOutboxId(address: string, returnPath: string, secret: string): number | undefined {
  return verpParts(address, returnPath, secret)?.outboxId;
}

/** Which of the message's recipients the return path was made for, else undefined. */
export function verpRecipient(parts: VerpParts, recipients: readonly string[], secret: string): string | undefined {
  return recipients.find((r) => same(mac(`bounce:${parts.outboxId}:${r.toLowerCase()}`, secret), parts.recipientTag));
}
