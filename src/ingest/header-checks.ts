import addressparser from 'nodemailer/lib/addressparser';
import { unfoldHeaders } from '../parse/header-fields.js';
import { normalizeAddress } from '../shared/addresses.js';

export interface HeaderFacts {
  /** The (first) From address, lower-cased: R43 counts messages per sender. */
  sender: string | null;
  /** How many From addresses the message has (R45 refuses more than one). */
  fromCount: number;
}

/** Reads the facts ingest needs from the raw header block, without a MIME parse. Pure. */
export function inspectHeaders(block: string): HeaderFacts {
  const from = unfoldHeaders(block).get('from') ?? [];
  const addresses = from.flatMap((v) => {
    const flat: string[] = [];
    const walk = (list: ReturnType<typeof addressparser>) => {
      for (const a of list) {
        if ('group' in a && a.group) walk(a.group as ReturnType<typeof addressparser>);
        else if (a.address) flat.push(normalizeAddress(a.address));
      }
    };
    walk(addressparser(v));
    return flat;
  });
  return { sender: addresses[0] ?? null, fromCount: addresses.length };
}

/**
 * R45 / CVE-2023-51766 class: a bare LF or a bare CR in message data, which other MTAs may read
 * as the end of DATA and so let a sender smuggle a second message. Tracks the byte before the
 * chunk so a CRLF split across chunks is not mistaken for a bare one.
 */
export class LineEndingGuard {
  private prev = 0;
  bare = false;

  feed(chunk: Buffer): void {
    if (this.bare) return;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 0x0a && this.prev !== 0x0d) { this.bare = true; return; }
      if (this.prev === 0x0d && b !== 0x0a) { this.bare = true; return; }
      this.prev = b;
    }
  }

  /** A CR at the very end of the data is bare too. */
  finish(): boolean {
    if (this.prev === 0x0d) this.bare = true;
    return this.bare;
  }
}
