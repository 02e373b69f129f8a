import { unfoldHeaders } from '../parse/header-fields.js';
import { normalizeAddress } from '../shared/addresses.js';

/** Support addresses a message read from a file was sent to: Delivered-To / X-Original-To, then To and Cc. */
export function recipientsFromHeaders(raw: Buffer, isSupport: (a: string) => string | undefined): string[] {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf < 0 ? lf : lf < 0 ? crlf : Math.min(crlf, lf);
  const headers = unfoldHeaders(raw.subarray(0, end >= 0 ? end : Math.min(raw.length, 256 * 1024)).toString('latin1'));
  const candidates = ['delivered-to', 'x-original-to', 'to', 'cc']
    .flatMap((h) => headers.get(h) ?? [])
    .flatMap((v) => [...v.matchAll(/[^\s<>,;:"()]+@[^\s<>,;:"()]+/g)].map((m) => normalizeAddress(m[0])));
  return [...new Set(candidates.map(isSupport).filter((a): a is string => a !== undefined))];
}
