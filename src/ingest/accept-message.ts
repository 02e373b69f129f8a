import type { Readable } from 'node:stream';
import type { RawStore, IntakeWriter, IntakeRepo, NewIntake, Via } from '../store/index.js';
import { messageIdFromHeaders } from '../parse/header-fields.js';
import { ContentDigest, contentDigest } from '../parse/header-fields.js';
import { DeskgateError } from '../shared/errors.js';
import { inspectHeaders, LineEndingGuard } from './header-checks.js';
import type { Metrics } from '../shared/metrics.js';

export interface Envelope {
  via: Via;
  from: string | null;
  /** Support addresses the message is accepted for (already checked by the caller, R5). */
  to: string[];
  remoteIp?: string | null;
  helo?: string | null;
}

export interface Accepted {
  intakeId: number;
  messageId: string | null;
  /** R7: the message was already stored; nothing new was written. */
  duplicate: boolean;
  /** R65: its Message-ID was already stored with other content; stored as a message of its own. */
  messageIdReused: boolean;
  size: number;
}

export type AcceptResult = Accepted | { tooLarge: true; size: number };

/**
 * The one durable path into deskgate for SMTP, pipe and IMAP (R6): stream the raw bytes to an
 * fsynced file, then commit the intake row (group commit). Resolves only when both are on disk;
 * the caller acknowledges after that. The dedupe key is the Message-ID, or the sha256 of the
 * bytes for a message without one (R7); a stored Message-ID is a duplicate only when the
 * content digest agrees too (R65).
 */
export interface AcceptOptions {
  /** Received: line deskgate prepends (SMTP). */
  prefix?: string;
  /**
   * SMTP's refusals (R45, R43): bare CR/LF, several From addresses, oversize headers, and a
   * sender past twice its hourly rate. Pipe and IMAP mail was already accepted elsewhere.
   */
  smtpChecks?: { maxHeaderSize: number; refuseAfterPerHour: number | null };
}

type IntakeReads = Pick<IntakeRepo, 'countFromSender' | 'get' | 'rawBytes' | 'setContentDigest'>;

export function createAcceptMessage(deps: {
  raw: RawStore; writer: IntakeWriter; intake?: IntakeReads; maxSize: number; now?: () => Date; metrics?: Metrics;
  /** processing.workers > 1: the message's processing lane (pipeline/lanes.ts); else every message is lane 0. */
  lane?: (headerBlock: string, envelopeTo: readonly string[], messageId: string | null, sha256: string) => Promise<number>;
}) {
  const refuse = (code: string, smtpCode: number, message: string) => new DeskgateError(code, message, { smtpCode });
  /**
   * R65 for a message stored before content digests: its digest from its raw bytes. Bytes that
   * are gone (a deleted message) match nothing, so the new message is stored, never dropped.
   */
  const storedDigest = async (id: number): Promise<string> => {
    const row = await deps.intake!.get(id);
    const bytes = (await deps.intake!.rawBytes(id)) ?? (row?.raw_path ? await deps.raw.read(row.raw_path).catch(() => undefined) : undefined);
    return bytes ? contentDigest(bytes) : 'unavailable';
  };
  return async function acceptMessage(source: Readable | Buffer, envelope: Envelope, opts: AcceptOptions = {}): Promise<AcceptResult> {
    const now = deps.now?.() ?? new Date();
    deps.metrics?.received.inc({ via: envelope.via });
    const guard = opts.smtpChecks ? new LineEndingGuard() : undefined;
    const digest = new ContentDigest();
    const observe = (c: Buffer) => { guard?.feed(c); digest.feed(c); };
    let written;
    try {
      written = await deps.raw.write(source, { maxSize: deps.maxSize, now, ...(opts.prefix ? { prefix: opts.prefix } : {}), observe });
    } catch (err) {
      throw new DeskgateError('INGEST_SPOOL_WRITE', `cannot write message to the spool: ${(err as Error).message}`, { smtpCode: 451, cause: err });
    }
    if (written.sizeExceeded) {
      deps.metrics?.rejected.inc({ reason: 'too_large' });
      return { tooLarge: true, size: written.size };
    }
    const facts = inspectHeaders(written.headerBlock);
    if (opts.smtpChecks) {
      const c = opts.smtpChecks;
      let refusal: DeskgateError | undefined;
      if (guard!.finish()) refusal = refuse('INGEST_BARE_NEWLINE', 554, '5.5.2 Message has a bare <CR> or <LF>: refused (SMTP smuggling protection)');
      else if (facts.fromCount > 1) refusal = refuse('INGEST_MULTIPLE_FROM', 550, '5.7.1 Message has several From addresses: refused (R45)');
      else if (written.headerBlock.length > c.maxHeaderSize) refusal = refuse('INGEST_HEADER_TOO_LARGE', 552, `5.3.4 Message header larger than ${c.maxHeaderSize} bytes`);
      else if (c.refuseAfterPerHour !== null && facts.sender && deps.intake
        && (await deps.intake.countFromSender(facts.sender, new Date(now.getTime() - 3_600_000).toISOString(), c.refuseAfterPerHour)) >= c.refuseAfterPerHour) {
        refusal = refuse('INGEST_SENDER_RATE', 450, '4.7.1 Too many messages from this sender, try again later (R43)');
      }
      if (refusal) {
        deps.metrics?.rejected.inc({ reason: refusal.code });
        if (written.relPath) await deps.raw.remove(written.relPath);
        throw refusal;
      }
    }
    const messageId = messageIdFromHeaders(written.headerBlock);
    try {
      const row: NewIntake = {
        dedupeKey: messageId ? `mid:${messageId}` : `sha256:${written.sha256}`,
        messageId,
        rawPath: written.relPath,
        rawInline: written.inline,
        rawSize: written.size,
        rawSha256: written.sha256,
        via: envelope.via,
        envelopeFrom: envelope.from,
        envelopeTo: envelope.to,
        remoteIp: envelope.remoteIp ?? null,
        helo: envelope.helo ?? null,
        sender: facts.sender,
        subject: null,
        receivedAt: now.toISOString(),
        contentDigest: messageId ? digest.digest() : null,
        lane: deps.lane ? await deps.lane(written.headerBlock, envelope.to, messageId, written.sha256) : 0,
      };
      let result = await deps.writer.submit(row, written.dirs);
      if (result.digestUnknown && deps.intake) {
        await deps.intake.setContentDigest(result.id, await storedDigest(result.id));
        result = await deps.writer.submit(row, written.dirs);
      }
      if (result.duplicate && written.relPath) await deps.raw.remove(written.relPath);
      deps.metrics?.accepted.inc({ via: envelope.via, duplicate: String(result.duplicate) });
      return { intakeId: result.id, messageId, duplicate: result.duplicate, messageIdReused: result.messageIdReused, size: written.size };
    } catch (err) {
      if (written.relPath) await deps.raw.remove(written.relPath).catch(() => {});
      throw new DeskgateError('INGEST_COMMIT', `cannot commit intake record: ${(err as Error).message}`, { smtpCode: 451, cause: err });
    }
  };
}

export type AcceptMessage = ReturnType<typeof createAcceptMessage>;

export function isAccepted(r: AcceptResult): r is Accepted {
  return !('tooLarge' in r);
}
