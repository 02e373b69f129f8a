import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { REPORT_PART_TYPES, REPORT_PART_BYTES, type ReportPart } from './bounce.js';
import { MailParser, type ParsedMail, type AttachmentStream, type MessageText, type MailParserOptions } from 'mailparser';

/** The message goes to mailparser in slices of this size (see parseMail). */
const SLICE = 64 * 1024;

/**
 * An attachment's decoded bytes as stored: their sha256 and size, and the bytes when kept in
 * memory, or the scratch file they were streamed into for the processing stage to store.
 */
export interface StoredContent { sha256: string; size: number; content?: Buffer; file?: string }

/**
 * Where each attachment's decoded bytes go while mailparser decodes them (issue 15: big mail is
 * never held decoded): a file in the content store, or memory when the store is elsewhere.
 */
export type ContentSink = (content: Readable) => Promise<StoredContent>;

/** Keeps the bytes (the store is a database, written by the processing stage). */
export const memorySink: ContentSink = async (content) => {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for await (const c of content) { hash.update(c as Buffer); chunks.push(c as Buffer); }
  const bytes = Buffer.concat(chunks);
  return { sha256: hash.digest('hex'), size: bytes.length, content: bytes };
};

export type StreamedMail = Omit<ParsedMail, 'attachments'> & {
  attachments: Array<Omit<AttachmentStream, 'content' | 'release'> & StoredContent>;
  /** R67: the first bytes of each delivery-status part and returned message (see parse/bounce.ts). */
  reportParts: ReportPart[];
};

/** The sink's stream, with its first REPORT_PART_BYTES kept in `into` on the way. */
function keepingStart(content: Readable, contentType: string, into: ReportPart[]): Readable {
  const kept: Buffer[] = [];
  let size = 0;
  const tee = new Transform({
    transform(c: Buffer, _enc, done) {
      if (size < REPORT_PART_BYTES) { kept.push(c); size += c.length; }
      done(null, c);
    },
    flush(done) {
      into.push({ contentType, text: Buffer.concat(kept).subarray(0, REPORT_PART_BYTES).toString('utf8') });
      done();
    },
  });
  content.on('error', (err) => tee.destroy(err));
  return content.pipe(tee);
}

/**
 * mailparser's simpleParser, except that each attachment streams into `sink` as it is decoded
 * instead of being collected into a Buffer; cid: links stay as they are (simpleParser keepCidLinks).
 * `tap` (a pass-through) sees the raw bytes on their way to the parser.
 */
export function parseMail(source: Buffer | Readable, options: MailParserOptions, sink: ContentSink, tap?: Transform): Promise<StreamedMail> {
  return new Promise((resolve, reject) => {
    // MailParser may emit a non-fatal 'error' and still reach 'end': settle once.
    let settled = false;
    const settle = (err: unknown, mail?: StreamedMail) => {
      if (settled) return;
      settled = true;
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(mail!);
    };
    const mail = { attachments: [], reportParts: [] } as unknown as StreamedMail & Record<string, unknown>;
    const parser = new MailParser(options);
    parser.on('error', (err) => settle(err));
    parser.on('headers', (headers) => {
      mail.headers = headers;
      mail.headerLines = parser.headerLines || [];
    });
    let reading = false;
    const reader = (): void => {
      reading = true;
      const data = parser.read() as AttachmentStream | MessageText | null;
      if (data === null) {
        reading = false;
        return;
      }
      if (data.type === 'text') {
        for (const key of ['text', 'html', 'textAsHtml'] as const) if (key in data) mail[key] = data[key] as never;
        return reader();
      }
      const { content, release, ...meta } = data;
      const report = REPORT_PART_TYPES.has(meta.contentType);
      sink(report ? keepingStart(content, meta.contentType, mail.reportParts) : content).then((stored) => {
        mail.attachments.push({ ...meta, ...stored });
        release?.();
        reader();
      }, (err: unknown) => { content.resume(); settle(err); });
    };
    parser.on('readable', () => { if (!reading) reader(); });
    parser.on('end', () => {
      for (const key of ['subject', 'references', 'date', 'to', 'from', 'cc', 'bcc', 'message-id', 'in-reply-to', 'reply-to']) {
        if (mail.headers?.has(key)) mail[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = mail.headers.get(key) as never;
      }
      settle(null, mail);
    });
    // In slices through pipe(), so the parser waits while a sink writes: handed the whole message
    // at once it would decode it all into the attachment streams' buffers before any drained.
    const input = Buffer.isBuffer(source) ? Readable.from(slices(source)) : source;
    input.on('error', (err) => { parser.destroy(); settle(err); });
    if (tap) {
      tap.on('error', (err) => settle(err));
      input.pipe(tap).pipe(parser);
    } else {
      input.pipe(parser);
    }
  });
}

function* slices(raw: Buffer): Generator<Buffer> {
  for (let at = 0; at < raw.length; at += SLICE) yield raw.subarray(at, Math.min(raw.length, at + SLICE));
}
