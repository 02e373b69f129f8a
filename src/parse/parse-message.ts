import type { Readable } from 'node:stream';
import type { AddressObject } from 'mailparser';
import { RawScan, PREFIX_BYTES } from './raw-scan.js';
import { parseMail, memorySink, type ContentSink, type StreamedMail } from './mail-stream.js';
import { normalizeAddress } from '../shared/addresses.js';
import { cutReply } from './reply-cut.js';
import { extractMessageIds } from './header-fields.js';
import { rawHeaderBytes, rawHeaderValues, repairHeader, repairNames, HeaderDecoder } from './header-charset.js';
import { htmlBody, type HtmlFlag } from './html-text.js';
import { readBounce, type Bounce } from './bounce.js';
import { utf7TextParts, decodeUtf7, stripBodyControls, stripHeaderControls } from './body-clean.js';

export interface Mailbox {
  address: string;
  name: string;
}

export interface ParsedAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  sha256: string;
  contentId: string | null;
  inline: boolean;
  /** The bytes, unless the parser streamed them into the content store already (see ParseOptions.sink). */
  content?: Buffer;
  /**
   * A scratch file holding the bytes (PostgreSQL: see ParseOptions.sink); the processing stage
   * streams it into the database and removes it.
   */
  file?: string;
}

/** Headers that mark robots and lists (R42) and authentication results (R44), kept verbatim. */
export interface TrustHeaders {
  autoSubmitted: string | null;
  precedence: string | null;
  xAutoreply: string | null;
  xAutorespond: string | null;
  xAutoResponseSuppress: string | null;
  listId: string | null;
  listUnsubscribe: string | null;
  authenticationResults: string[];
}

/** One inbound message as the later stages see it: plain data, no I/O handles. */
export interface ParsedMessage {
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  subject: string;
  /** Every From address; R45 rejects mail with more than one. */
  from: Mailbox[];
  replyTo: Mailbox[];
  to: Mailbox[];
  cc: Mailbox[];
  date: string | null;
  /** R61: the text/plain part, or the HTML converted to text. */
  text: string;
  /** R64: the text with quoted history and signature cut when the message is a reply; else the text. */
  visibleText: string;
  /** Whether the message looks like a reply (reply headers, a reply token, the reply line). */
  isReply: boolean;
  /** R9: the HTML body sanitised (no scripts, no remote-loading tricks), cid: links kept (R63). */
  html: string | null;
  attachments: ParsedAttachment[];
  /** R11: reply tokens written as [DG-<token>] anywhere in the text or HTML. */
  bodyTokens: string[];
  trust: TrustHeaders;
  /** R61: comment flags from the body: html_simplified (HTML the converters could not take), truncated. */
  flags: HtmlFlag[];
  /** Why each flag was set, for the log. */
  notes: string[];
  /** R67: the delivery status notification this message is, or null (see parse/bounce.ts). */
  bounce: Bounce | null;
}

export interface ParseOptions {
  replyLine: string;
  /** The envelope already says this is a reply (a token in a plus-address). */
  replyHint?: boolean;
  /** Where attachments stream while decoded (default: kept in memory, returned as `content`). */
  sink?: ContentSink;
}

function mailboxes(field: AddressObject | AddressObject[] | undefined): Mailbox[] {
  if (!field) return [];
  const out: Mailbox[] = [];
  const walk = (list: AddressObject['value']) => {
    for (const a of list) {
      if (a.group) walk(a.group);
      else if (a.address) out.push({ address: normalizeAddress(a.address), name: (a.name ?? '').trim() });
    }
  };
  for (const obj of Array.isArray(field) ? field : [field]) walk(obj.value);
  return out;
}

function header(mail: StreamedMail, name: string): string | null {
  const line = mail.headerLines.find((h) => h.key === name);
  if (!line) return null;
  const colon = line.line.indexOf(':');
  return line.line.slice(colon + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
}

function bounceOf(mail: StreamedMail, text: string): Bounce | null {
  const type = mail.headers?.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  return readBounce({
    contentType: (type?.value ?? 'text/plain').toLowerCase(),
    reportType: type?.params?.['report-type']?.toLowerCase() ?? null,
    reportParts: mail.reportParts,
    text,
  });
}

const TOKEN_IN_BODY = /\[DG-([0-9]+-[0-9a-f]{16})\]/gi;

/**
 * Parses an RFC 5322 message (its bytes, or a stream of them such as its spool file) into a
 * ParsedMessage. Throws on input mailparser cannot read at all.
 */
export async function parseMessage(source: Buffer | Readable, opts: ParseOptions): Promise<ParsedMessage> {
  // What the repairs below read of the raw bytes, kept while the message streams through.
  const scan = new RawScan(!Buffer.isBuffer(source));
  // mailparser's own HTML conversion is skipped: html-text.ts guards it (R61) and it would run twice.
  // A delivery-status part is kept apart (R67), not appended to the text.
  const mail = await parseMail(source, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true, skipHtmlToText: true, keepDeliveryStatus: true }, opts.sink ?? memorySink, scan);
  // The header repairs read the header block, the first text part's charset and a body sample.
  const raw = Buffer.isBuffer(source) ? source.subarray(0, PREFIX_BYTES) : scan.prefix;
  const utf7 = utf7TextParts(scan.headerBlocks);
  const rawHtml = typeof mail.html === 'string' ? stripBodyControls(utf7.html ? decodeUtf7(mail.html) : mail.html) : null;
  let text = stripBodyControls(utf7.plain ? decodeUtf7(mail.text ?? '') : mail.text ?? '');
  const body = rawHtml !== null && rawHtml.trim() !== '' ? htmlBody(rawHtml, text.trim() === '') : null;
  if (body?.text != null) text = body.text;
  text = text.replace(/\r\n?/g, '\n');
  const messageIds = extractMessageIds(mail.messageId ?? null);
  const refs = Array.isArray(mail.references) ? mail.references.join(' ') : mail.references;
  const attachments = mail.attachments.map((a): ParsedAttachment => ({
    filename: a.filename != null ? stripHeaderControls(a.filename) : null,
    contentType: a.contentType || 'application/octet-stream',
    size: a.size,
    sha256: a.sha256,
    contentId: a.contentId ?? a.cid ?? null,
    inline: a.contentDisposition === 'inline' || a.related === true,
    ...(a.content ? { content: a.content } : {}),
    ...(a.file ? { file: a.file } : {}),
  }));
  const tokenSource = `${text}\n${rawHtml ?? ''}`;
  const bodyTokens = [...new Set([...tokenSource.matchAll(TOKEN_IN_BODY)].map((m) => m[1]!.toLowerCase()))];
  const inReplyTo = extractMessageIds(mail.inReplyTo ?? null);
  const references = extractMessageIds(refs ?? null);
  // R64 cuts replies only: a new ticket keeps everything its first mail says (a forwarded
  // block, R15), and skipping the reply parser there halves the cost of new-ticket mail.
  const isReply = Boolean(opts.replyHint) || inReplyTo.length > 0 || references.length > 0 || bodyTokens.length > 0 || text.includes(opts.replyLine);
  const rawSubject = stripHeaderControls(mail.subject ?? '').trim();
  // R66: raw 8-bit Subject and display names, in the text part's charset, else detected, else Latin-1.
  const decoder = new HeaderDecoder(raw);
  const repair = decoder.needed;
  const repaired = repair ? repairHeader(rawSubject, rawHeaderBytes(raw, 'subject'), decoder) : undefined;
  const subject = repaired !== undefined ? stripHeaderControls(repaired) : rawSubject;
  const people = (field: AddressObject | AddressObject[] | undefined, name: string) =>
    (repair ? repairNames(mailboxes(field), rawHeaderValues(raw, name), decoder, normalizeAddress) : mailboxes(field))
      .map((m) => ({ ...m, name: stripHeaderControls(m.name).trim() }));
  return {
    messageId: messageIds.length === 1 ? messageIds[0]! : null,
    inReplyTo,
    references,
    subject,
    from: people(mail.from, 'from'),
    replyTo: people(mail.replyTo, 'reply-to'),
    to: people(mail.to, 'to'),
    cc: people(mail.cc, 'cc'),
    date: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : null,
    text,
    visibleText: isReply ? cutReply(text, opts.replyLine) : text.replace(/\s+$/, ''),
    isReply,
    html: body?.html ?? null,
    attachments,
    bodyTokens,
    trust: {
      autoSubmitted: header(mail, 'auto-submitted'),
      precedence: header(mail, 'precedence'),
      xAutoreply: header(mail, 'x-autoreply'),
      xAutorespond: header(mail, 'x-autorespond'),
      xAutoResponseSuppress: header(mail, 'x-auto-response-suppress'),
      listId: header(mail, 'list-id'),
      listUnsubscribe: header(mail, 'list-unsubscribe'),
      authenticationResults: mail.headerLines.filter((h) => h.key === 'authentication-results').map((h) => h.line.slice(h.line.indexOf(':') + 1).trim()),
    },
    flags: body?.flags ?? [],
    notes: body?.notes ?? [],
    bounce: bounceOf(mail, text),
  };
}
