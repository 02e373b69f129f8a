/**
 * Repairs for headers that mailparser cannot decode (R62): raw 8-bit bytes with no declared
 * charset (common from old Outlook versions), and UTF-7 encoded words, which it leaves as is.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The raw bytes of one header's (unfolded) value, read from the message's header block. */
export function rawHeaderBytes(raw: Buffer, name: string): Buffer | undefined {
  let end = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (end < 0 || (lf >= 0 && lf < end)) end = lf;
  const block = raw.subarray(0, end < 0 ? Math.min(raw.length, 256 * 1024) : end).toString('latin1');
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(block);
  if (!m) return undefined;
  return Buffer.from(m[1]!.replace(/\r?\n([ \t])/g, '$1'), 'latin1');
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function decodeWith(bytes: Buffer, charset: string): string | undefined {
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return undefined; // unknown charset label
  }
}

/** UTF-7 (RFC 2152): "+" base64 of UTF-16BE "-". */
export function decodeUtf7(s: string): string {
  return s.replace(/\+([A-Za-z0-9+/]*)-?/g, (_m, b64: string) => {
    if (b64 === '') return '+';
    const bytes = Buffer.from(b64, 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  });
}

/**
 * A better decoding of a header value when mailparser's has replacement characters or raw
 * UTF-7 words: 8-bit bytes that are not UTF-8 are read in the message's body charset, or
 * windows-1252 (the de-facto default of such mailers). Returns undefined when there is
 * nothing to repair.
 */
export function repairHeader(decoded: string, raw: Buffer | undefined, bodyCharset: string | undefined): string | undefined {
  if (!raw) return undefined;
  const utf7 = /=\?utf-7\?([qb])\?([^?]*)\?=/gi;
  if (utf7.test(raw.toString('latin1'))) {
    return raw.toString('latin1').replace(utf7, (_m, enc: string, text: string) => {
      const bytes = enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('latin1') : text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return decodeUtf7(bytes);
    }).replace(/\?=\s+=\?/g, '?==?').trim();
  }
  if (!decoded.includes('\uFFFD')) return undefined;
  if (!raw.some((b) => b >= 0x80) || isValidUtf8(raw)) return undefined;
  const charset = bodyCharset && !/^(us-ascii|utf-?8)$/i.test(bodyCharset) ? bodyCharset : 'windows-1252';
  const text = decodeWith(raw, charset) ?? decodeWith(raw, 'windows-1252');
  return text?.replace(/\s+/g, ' ').trim();
}
