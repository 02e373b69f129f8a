import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * R11 reply tokens: "<ticket id>-<first 16 hex of HMAC-SHA256(secret, 'ticket:<id>')>".
 * Lower-case hex so the token survives address lower-casing (R2); 64 bits of MAC so a ticket
 * cannot be reached by guessing.
 */
export function makeReplyToken(ticketId: number, secret: string): string {
  return `${ticketId}-${mac(ticketId, secret)}`;
}

function mac(ticketId: number, secret: string): string {
  return createHmac('sha256', secret).update(`ticket:${ticketId}`).digest('hex').slice(0, 16);
}

/** The ticket id of a correctly signed token, else undefined. Constant-time comparison. */
export function verifyReplyToken(token: string, secret: string): number | undefined {
  const m = /^([0-9]{1,15})-([0-9a-f]{16})$/.exec(token.toLowerCase());
  if (!m) return undefined;
  const id = Number(m[1]);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const expected = Buffer.from(mac(id, secret), 'utf8');
  const given = Buffer.from(m[2]!, 'utf8');
  return timingSafeEqual(expected, given) ? id : undefined;
}

/** The token in a plus-address of a support address ("support+12-abc…@acme.test"), if any. */
export function tokenFromAddress(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at) : address;
  const plus = local.indexOf('+');
  if (plus < 0) return undefined;
  return local.slice(plus + 1);
}
