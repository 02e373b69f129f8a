import { unfoldHeaders, extractMessageIds } from './header-fields.js';
import { normalizeAddress } from '../shared/addresses.js';

/**
 * R67: reading a delivery status notification. The standard form is RFC 3464
 * (`multipart/report; report-type=delivery-status`, one `message/delivery-status` part with a
 * block per recipient, the returned message or its headers beside it). The non-standard forms
 * are the text bounces some MTAs still send (qmail, Exim without DSN, old Exchange, Gmail,
 * Yahoo, a Postfix report flattened by a forwarder), recognised by their fixed boilerplate.
 * Pure: the parser thread calls it with the parts it kept; the pipeline decides what it means.
 */

export type BounceAction = 'failed' | 'delayed';

export interface BouncedRecipient {
  address: string;
  action: BounceAction;
  /** The RFC 3463 status, `5.1.1`; a basic code alone (550) gives `5.0.0`. */
  status: string;
  diagnostic: string | null;
}

export interface Bounce {
  /** `rfc3464`, or the non-standard form recognised (`qmail`, `exim`, …). */
  form: string;
  /** An RFC 3464 report is a bounce by its type; a text form only from a robot (see rules/bounces.ts). */
  standard: boolean;
  /** Recipients that failed or are delayed; delivered/relayed/expanded ones are left out. */
  recipients: BouncedRecipient[];
  /** A report that names recipients, none of them failed or delayed (NOTIFY=SUCCESS, relayed): no bounce. */
  noFailure: boolean;
  /** The Message-ID of the returned message, when the bounce carries it or its headers. */
  originalMessageId: string | null;
}

export interface ReportPart { contentType: string; text: string }

export interface BounceInput {
  /** The top-level Content-Type, lower-case, and its report-type parameter. */
  contentType: string;
  reportType: string | null;
  /** Parts kept for this (delivery-status, returned message or headers), each its first bytes. */
  reportParts: readonly ReportPart[];
  /** The text body. */
  text: string;
}

const STATUS_PARTS = new Set(['message/delivery-status', 'message/global-delivery-status']);
const RETURNED_PARTS = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/rfc822-headers', 'message/global-headers']);
/** The content types whose first bytes the parser keeps for readBounce. */
export const REPORT_PART_TYPES: ReadonlySet<string> = new Set([...STATUS_PARTS, ...RETURNED_PARTS]);
/** How much of each report part is kept: a report is small; a returned message's headers come first. */
export const REPORT_PART_BYTES = 64 * 1024;

const ENHANCED = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;
/** In text: only a failure's code (4.x.x, 5.x.x) says what went wrong. */
const FAILURE = /(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d]|\.\d)/;
const BASIC = /(?<![\d.])([45])\d\d(?=[\s\-#:]|$)/m;

/** The bounce this message is, or null. */
export function readBounce(i: BounceInput): Bounce | null {
  const isReport = i.contentType === 'multipart/report' && (i.reportType === 'delivery-status' || i.reportType === 'global-delivery-status');
  if (isReport) {
    const parts = i.reportParts.filter((p) => STATUS_PARTS.has(p.contentType));
    // The status part is the report; only a report without one (cut off, a broken MTA) is read
    // from its text, which a success report shares its opening sentence with.
    const named = parts.reduce((n, p) => n + namedRecipients(p.text), 0);
    const recipients = parts.length > 0 ? parts.flatMap((p) => deliveryStatus(p.text)) : (textForm(i.text)?.recipients ?? []);
    return { form: 'rfc3464', standard: true, recipients, noFailure: recipients.length === 0 && named > 0, originalMessageId: returnedMessageId(i.reportParts) ?? copiedMessageId(i.text) };
  }
  const text = textForm(i.text);
  if (!text) return null;
  return { ...text, standard: false, noFailure: false, originalMessageId: returnedMessageId(i.reportParts) ?? copiedMessageId(i.text) };
}

const statusBlocks = (text: string) => text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/).map(unfoldHeaders);
const namedRecipients = (text: string) => statusBlocks(text).filter((f) => f.has('final-recipient') || f.has('original-recipient')).length;

/** RFC 3464 §2: a per-message block, then one block per recipient, separated by blank lines. */
export function deliveryStatus(text: string): BouncedRecipient[] {
  const out: BouncedRecipient[] = [];
  for (const f of statusBlocks(text)) {
    const first = (name: string) => f.get(name)?.[0] ?? null;
    const recipient = typedValue(first('final-recipient')) ?? typedValue(first('original-recipient'));
    if (!recipient) continue;
    const action = (first('action') ?? '').toLowerCase().trim();
    if (action !== 'failed' && action !== 'delayed') continue;
    const diagnostic = typedValue(first('diagnostic-code'));
    const status = ENHANCED.exec(first('status') ?? '')?.[0] ?? statusOf(diagnostic ?? '', action);
    if (status.startsWith('2')) continue; // "failed" with a success code says nothing went wrong
    out.push({ address: clip(normalizeAddress(recipient.replace(/^<|>$/g, '')), 254), action, status, diagnostic: diagnostic ? clip(diagnostic) : null });
  }
  return out;
}

/** `rfc822; a@b` → `a@b` (RFC 3464 address-type and diagnostic-type prefixes). */
function typedValue(v: string | null): string | null {
  if (v === null) return null;
  const semi = v.indexOf(';');
  const value = (semi >= 0 ? v.slice(semi + 1) : v).trim();
  return value === '' ? null : value;
}

/** An enhanced code in the text, else the basic code's class (550 → 5.0.0), else the action's. */
function statusOf(text: string, action: BounceAction): string {
  const enhanced = FAILURE.exec(text);
  if (enhanced) return enhanced[0];
  const basic = BASIC.exec(text);
  if (basic) return `${basic[1]}.0.0`;
  return action === 'delayed' ? '4.0.0' : '5.0.0';
}

const clip = (s: string, max = 500) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
};

/** The Message-ID in a returned message or its headers (the part's header block). */
function returnedMessageId(parts: readonly ReportPart[]): string | null {
  for (const p of parts) {
    if (!RETURNED_PARTS.has(p.contentType)) continue;
    const end = p.text.search(/\r?\n\r?\n/);
    const ids = extractMessageIds(unfoldHeaders(end >= 0 ? p.text.slice(0, end) : p.text).get('message-id')?.[0] ?? null);
    if (ids.length === 1) return ids[0]!;
  }
  return null;
}

/** Where text bounces start their copy of the returned message. */
const COPY_MARKERS = [
  /^-+ ?Below this line is a copy of the message\.?/im, // qmail, Yahoo
  /^-+ This is a copy of the message, including all the headers\. -+/im, // Exim
  /^-+ The header of the original message is following\. -+/im, // Exim (headers only)
  /^-+ ?(?:Original message|Original message headers|Returned message) -+/im,
  /^Original message headers:/im, // Exchange
];

function copiedMessageId(text: string): string | null {
  for (const marker of COPY_MARKERS) {
    const m = marker.exec(text);
    if (!m) continue;
    const id = /^message-id:[ \t]*(<[^\s<>]+>)/im.exec(text.slice(m.index))?.[1];
    if (id) return extractMessageIds(id)[0] ?? null;
  }
  return null;
}

interface TextForm {
  form: string;
  /** The boilerplate that says what this is. */
  intro: RegExp;
  /** Said instead when the MTA is still trying (a warning, not a bounce). */
  delayed?: RegExp;
}

/** The non-standard forms, by the sentences their MTAs write (see test/fixtures/bounces). */
const TEXT_FORMS: readonly TextForm[] = [
  { form: 'qmail', intro: /^Hi\. This is the qmail-send program at /m },
  { form: 'exim', intro: /This message was created automatically by mail delivery software\./, delayed: /has not yet been delivered to one or more of its\s+recipients/ },
  { form: 'exchange', intro: /Delivery has failed to these recipients or groups:/ },
  { form: 'gmail', intro: /Delivery to the following recipients? (?:failed permanently|has been delayed):/, delayed: /has been delayed:/ },
  { form: 'yahoo', intro: /Sorry, we were unable to deliver your message to the following address/ },
  { form: 'postfix', intro: /^This is the mail system at host /m, delayed: /^# THIS IS A WARNING ONLY\.|could not be delivered\.\s+It will be retried until it is/m },
  { form: 'sendmail', intro: /^ *-+ The following addresses had permanent fatal errors -+/m },
];

const SECTION_BYTES = 64 * 1024;
const RETURNED_HEADER = /^(?:Return-Path|Received|Message-ID|Date|From|To|Cc|Subject|MIME-Version|Content-Type):[ \t]/im;
const DELIVERED = /\bsuccessfully delivered\b|\bdelivery (?:to the following recipients? )?(?:was|has been) (?:completed|successful)/i;
const MAX_RECIPIENTS = 100;
const ADDRESS = /[^\s<>()[\]"',;:@]{1,64}@[a-z0-9.-]{1,253}\.[a-z]{2,63}/i; // bounded: no quadratic scan of a long word
const ROBOT_LOCAL = /^(postmaster|mailer-daemon|no-?reply)@/i;

/** A text bounce: the form, then each failed recipient and what was said about it. */
function textForm(raw: string): { form: string; recipients: BouncedRecipient[] } | null {
  const text = raw.replace(/\r\n?/g, '\n');
  const form = TEXT_FORMS.find((f) => f.intro.test(text));
  if (!form) return null;
  const action: BounceAction = form.delayed?.test(text) ? 'delayed' : 'failed';
  const start = form.intro.exec(text)!.index;
  const copy = Math.min(...COPY_MARKERS.map((m) => m.exec(text)?.index ?? text.length));
  // A failure section is a few lines per recipient: bounded, so no body makes the scans below costly.
  let section = text.slice(start, Math.min(copy > start ? copy : text.length, start + SECTION_BYTES));
  // It ends where returned headers start, whatever introduces them: their addresses never bounced.
  const headers = RETURNED_HEADER.exec(section);
  if (headers) section = section.slice(0, headers.index);
  if (DELIVERED.test(section)) return null; // a success notice in a bounce's words
  return { form: form.form, recipients: recipientsIn(section, action) };
}

/**
 * Recipients in a failure section: addresses that open a line (`<a@b>:`, `  a@b`, `a@b<mailto:…>`),
 * each with the text up to the next one; else the first address at all.
 */
function recipientsIn(section: string, action: BounceAction): BouncedRecipient[] {
  const lineStart = new RegExp(`^[ \\t]*<?(${ADDRESS.source})>?(?=[ \\t]*(?::|$|\\(|<mailto:|\\[mailto:))`, 'gim');
  const hits = [...section.matchAll(lineStart)].filter((m) => !ROBOT_LOCAL.test(m[1]!)).slice(0, MAX_RECIPIENTS);
  const found = hits.length > 0 ? hits : [ADDRESS.exec(section)].filter((m): m is RegExpExecArray => m !== null && !ROBOT_LOCAL.test(m[0]));
  const addressOf = (m: RegExpMatchArray) => normalizeAddress((m[1] ?? m[0]).replace(/^<|>$/g, ''));
  // What is said about an address runs to the next other address (Exchange names one twice).
  const about = new Map<string, string>();
  found.forEach((m, k) => {
    const address = addressOf(m);
    const next = found.slice(k + 1).find((n) => addressOf(n) !== address);
    about.set(address, (about.get(address) ?? '') + section.slice(m.index!, next?.index ?? section.length));
  });
  const read = [...about].map(([address, text]) => {
    const line = text.split('\n').find((l) => FAILURE.test(l) || BASIC.test(l));
    return { address, action, status: statusOf(text, action), diagnostic: line ? clip(text.slice(text.indexOf(line)).split(/\n\s*\n/)[0]!) : null };
  });
  // Where some addresses come with what the server said, one without is a mention, not a failure.
  const said = read.filter((r) => r.diagnostic !== null);
  return said.length > 0 ? said : read;
}
