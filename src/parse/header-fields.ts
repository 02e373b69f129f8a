import { createHash } from 'node:crypto';

/**
 * Cheap reads of a raw header block, for ingest, which must find Message-ID (R7) without
 * paying for a MIME parse on the SMTP path.
 */
export function unfoldHeaders(block: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = block.split(/\r?\n/);
  let current: string | undefined;
  const flush = () => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = current.slice(0, colon).trim().toLowerCase();
      const value = current.slice(colon + 1).trim();
      out.set(name, [...(out.get(name) ?? []), value]);
    }
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current !== undefined) current += ' ' + line.trim();
    else {
      flush();
      current = line;
    }
  }
  flush();
  return out;
}

/** Every <id> in a Message-ID / In-Reply-To / References value, brackets kept. */
export function extractMessageIds(value: string | undefined | null): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => `<${m[1]}>`);
}

/** The message's own Message-ID from a header block, or null when it has none or a malformed one. */
export function messageIdFromHeaders(block: string): string | null {
  const values = unfoldHeaders(block).get('message-id');
  if (!values || values.length !== 1) return null;
  const ids = extractMessageIds(values[0]);
  if (ids.length !== 1 || ids[0]!.length > 998) return null;
  return ids[0]!;
}

const HEAD_CAP = 256 * 1024;

/**
 * R65: a digest of what a message says, not of how it travelled: its From, Date and Subject
 * and its body bytes. No other header counts, so whatever a hop adds (Received, Return-Path,
 * Delivered-To, X-Original-To, Authentication-Results, ARC-*, a relay's DKIM-Signature, spam
 * scores) leaves it unchanged: an MTA retry, an IMAP copy and an SMTP copy of one mail agree.
 * Line ends are compared without CR and trailing line breaks are dropped, because a pipe from
 * the MTA gives LF where SMTP and IMAP give CRLF. Fed chunk by chunk as the bytes arrive.
 */
export class ContentDigest {
  private head: Buffer = Buffer.alloc(0);
  private headers = '';
  private inBody = false;
  private readonly body = createHash('sha256');
  private pendingLf = 0;

  feed(chunk: Buffer): this {
    if (this.inBody) {
      this.feedBody(chunk);
      return this;
    }
    this.head = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const crlf = this.head.indexOf('\r\n\r\n');
    const lf = this.head.indexOf('\n\n');
    const end = crlf < 0 ? lf : lf < 0 ? crlf : Math.min(crlf, lf);
    if (end >= 0 || this.head.length > HEAD_CAP) {
      const split = end >= 0 ? end : HEAD_CAP;
      this.headers = this.head.subarray(0, split).toString('latin1');
      this.inBody = true;
      const rest = this.head.subarray(end >= 0 ? split + (end === crlf ? 4 : 2) : split);
      this.head = Buffer.alloc(0);
      this.feedBody(rest);
    }
    return this;
  }

  private feedBody(chunk: Buffer): void {
    // Without CR bytes (native string ops: a byte loop in JS is ten times slower); trailing LFs held back.
    const text = chunk.toString('latin1').replaceAll('\r', '');
    const kept = text.replace(/\n+$/, '');
    if (kept === '') {
      this.pendingLf += text.length;
      return;
    }
    if (this.pendingLf > 0) this.body.update('\n'.repeat(this.pendingLf));
    this.body.update(kept, 'latin1');
    this.pendingLf = text.length - kept.length;
  }

  /** Hex sha256 over From, Date, Subject (unfolded, whitespace collapsed) and the body's digest. */
  digest(): string {
    const headers = unfoldHeaders(this.inBody ? this.headers : this.head.toString('latin1'));
    const field = (name: string) => (headers.get(name) ?? []).map((v) => v.replace(/\s+/g, ' ')).join('\n');
    return createHash('sha256')
      .update(`from\0${field('from')}\0date\0${field('date')}\0subject\0${field('subject')}\0`, 'latin1')
      .update(this.body.digest())
      .digest('hex');
  }
}

/** R65's content digest of a whole message held in memory. */
export function contentDigest(raw: Buffer): string {
  return new ContentDigest().feed(raw).digest();
}

/** In-Reply-To and References of a header block, as the parser gives them (processing lanes read them at acceptance). */
export function replyIdsFromHeaders(block: string): { inReplyTo: string[]; references: string[] } {
  const h = unfoldHeaders(block);
  return { inReplyTo: extractMessageIds(h.get('in-reply-to')?.[0]), references: extractMessageIds(h.get('references')?.join(' ')) };
}
