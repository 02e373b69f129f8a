import iconv from 'iconv-lite';
import chardet from 'chardet';
import addressparser from 'nodemailer/lib/addressparser';

/**
 * Repairs for headers that mailparser cannot decode (R62, R66): raw 8-bit bytes with no
 * declared charset (old Outlook, Chinese and Japanese mailers), and UTF-7 encoded words, which
 * it leaves as is. mailparser reads such bytes as Latin-1 (Subject, or in the charset of a
 * single-part body) or as UTF-8 with U+FFFD (display names); both lose the text.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });
const ENCODED_WORD = /=\?[^?\s]+\?[bq]\?[^?]*\?=/i;
/** Below this chardet confidence (0-100) a guess is not trusted and Latin-1 is used (R66). */
const MIN_CONFIDENCE = 50;
/** Body bytes fed to the detector besides the 8-bit header values: more text, better guess. */
const BODY_SAMPLE = 16 * 1024;

function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0) return lf < 0 ? Math.min(raw.length, 256 * 1024) : lf;
  return lf >= 0 && lf < crlf ? lf : crlf;
}

/** The raw bytes of each occurrence of one header's (unfolded) value, from the message's header block. */
export function rawHeaderValues(raw: Buffer, name: string): Buffer[] {
  const block = raw.subarray(0, headerEnd(raw)).toString('latin1');
  const re = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'gim');
  return [...block.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\r?\n([ \t])/g, '$1'), 'latin1'));
}

/** The raw bytes of one header's (unfolded) value (its first occurrence). */
export function rawHeaderBytes(raw: Buffer, name: string): Buffer | undefined {
  return rawHeaderValues(raw, name)[0];
}

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const has8bit = (bytes: Uint8Array) => bytes.some((b) => b >= 0x80);

/** R66 applies: 8-bit bytes that are not UTF-8. */
function needsCharsetRepair(bytes: Buffer): boolean {
  return has8bit(bytes) && !isValidUtf8(bytes);
}

/** Decodes with iconv-lite; undefined for an unknown charset or bytes that are not valid in it. */
function decodeStrict(bytes: Buffer, charset: string): string | undefined {
  if (!iconv.encodingExists(charset)) return undefined;
  const text = iconv.decode(bytes, charset);
  return text.includes('\uFFFD') ? undefined : text;
}

/** The charset declared on the message's first text/* part (or on a single-part body). */
export function declaredTextCharset(raw: Buffer): string | undefined {
  const text = raw.subarray(0, Math.min(raw.length, 1024 * 1024)).toString('latin1');
  const ct = /^content-type:[ \t]*text\/[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*/im.exec(text);
  const charset = ct && /charset[ \t]*=[ \t]*"?([^";\s]+)/i.exec(ct[0]);
  return charset?.[1]?.toLowerCase();
}

/**
 * R66's order for one message: the charset its text part declares, then what chardet detects
 * over all its 8-bit header values and the start of its body, then Latin-1 (read as
 * windows-1252, as browsers and the WHATWG do, so 0x80-0x9F are the quotes and dashes senders mean).
 */
export class HeaderDecoder {
  private detected: string | null | undefined;
  private declaredCharset: string | null | undefined;

  constructor(private readonly raw: Buffer) {}

  /** Whether any header could need a repair: 8-bit bytes or UTF-7 words (else skip the work). */
  get needed(): boolean {
    const block = this.raw.subarray(0, headerEnd(this.raw));
    return has8bit(block) || /=\?utf-7\?/i.test(block.toString('latin1'));
  }

  private get declared(): string | null {
    if (this.declaredCharset === undefined) this.declaredCharset = declaredTextCharset(this.raw) ?? null;
    return this.declaredCharset;
  }

  private detect(): string | null {
    if (this.detected !== undefined) return this.detected;
    const end = headerEnd(this.raw);
    const values = this.raw.subarray(0, end).toString('latin1').split(/\r?\n/)
      .map((line) => Buffer.from(line.replace(/^[^:]*:/, ''), 'latin1')).filter(needsCharsetRepair);
    const sample = Buffer.concat([...values.flatMap((v) => [v, Buffer.from(' ')]), this.raw.subarray(end, end + BODY_SAMPLE)]);
    const best = chardet.analyse(sample).find((m) => m.confidence >= MIN_CONFIDENCE && !/^(ascii|utf-)/i.test(m.name));
    this.detected = best && iconv.encodingExists(best.name) ? best.name : null;
    return this.detected;
  }

  decode(bytes: Buffer): string {
    const declared = this.declared && !/^(us-ascii|ascii|utf-?8)$/i.test(this.declared) ? decodeStrict(bytes, this.declared) : undefined;
    if (declared !== undefined) return declared;
    const detected = this.detect();
    return (detected ? decodeStrict(bytes, detected) : undefined) ?? iconv.decode(bytes, 'windows-1252');
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
 * A better decoding of a header value than mailparser's: raw UTF-7 words, and raw 8-bit bytes
 * that are not UTF-8 (R66). A value that also has encoded words is left to mailparser unless
 * its answer has replacement characters. Returns undefined when there is nothing to repair.
 */
export function repairHeader(decoded: string, raw: Buffer | undefined, decoder: HeaderDecoder): string | undefined {
  if (!raw) return undefined;
  const utf7 = /=\?utf-7\?([qb])\?([^?]*)\?=/gi;
  if (utf7.test(raw.toString('latin1'))) {
    return raw.toString('latin1').replace(utf7, (_m, enc: string, text: string) => {
      const bytes = enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('latin1') : text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return decodeUtf7(bytes);
    }).replace(/\?=\s+=\?/g, '?==?').trim();
  }
  const text = decodeRaw(raw, decoder);
  if (text === undefined || (ENCODED_WORD.test(text) && !decoded.includes('\uFFFD'))) return undefined;
  return text === decoded ? undefined : text;
}

/**
 * The text of raw 8-bit header bytes: UTF-8 when they are valid UTF-8 (mailparser would read
 * them in a single-part body's charset), else R66's order. Undefined for 7-bit bytes.
 */
function decodeRaw(raw: Buffer, decoder: HeaderDecoder): string | undefined {
  if (!has8bit(raw)) return undefined;
  return (isValidUtf8(raw) ? raw.toString('utf8') : decoder.decode(raw)).replace(/\s+/g, ' ').trim();
}

interface Named { address: string; name: string }

/**
 * R66 for display names: re-reads From/To/Cc/Reply-To from their raw bytes and takes each 8-bit
 * name from there, matched by address; names with encoded words stay mailparser's.
 */
export function repairNames<T extends Named>(list: T[], rawValues: Buffer[], decoder: HeaderDecoder, normalize: (a: string) => string): T[] {
  const names = new Map<string, string>();
  for (const raw of rawValues) {
    const text = decodeRaw(raw, decoder);
    if (text === undefined) continue;
    const walk = (entries: ReturnType<typeof addressparser>) => {
      for (const e of entries) {
        if ('group' in e && e.group) walk(e.group as ReturnType<typeof addressparser>);
        else if (e.address && e.name && !ENCODED_WORD.test(e.name)) names.set(normalize(e.address), e.name.trim());
      }
    };
    walk(addressparser(text));
  }
  if (names.size === 0) return list;
  return list.map((m) => (names.has(m.address) ? { ...m, name: names.get(m.address)! } : m));
}
