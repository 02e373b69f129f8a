import type { Readable } from 'node:stream';
import type { RawStore, IntakeWriter, Via } from '../store/index.js';
import { messageIdFromHeaders } from '../parse/index.js';
import { DeskgateError } from '../shared/errors.js';

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
  size: number;
}

export type AcceptResult = Accepted | { tooLarge: true; size: number };

/**
 * The one durable path into deskgate for SMTP, pipe and IMAP (R6): stream the raw bytes to an
 * fsynced file, then commit the intake row (group commit). Resolves only when both are on disk;
 * the caller acknowledges after that. The dedupe key is the Message-ID, or the sha256 of the
 * bytes for a message without one (R7).
 */
export function createAcceptMessage(deps: { raw: RawStore; writer: IntakeWriter; maxSize: number; now?: () => Date }) {
  return async function acceptMessage(source: Readable | Buffer, envelope: Envelope, prefix?: string): Promise<AcceptResult> {
    const now = deps.now?.() ?? new Date();
    let written;
    try {
      written = await deps.raw.write(source, { maxSize: deps.maxSize, now, ...(prefix ? { prefix } : {}) });
    } catch (err) {
      throw new DeskgateError('INGEST_SPOOL_WRITE', `cannot write message to the spool: ${(err as Error).message}`, { smtpCode: 451, cause: err });
    }
    if (written.sizeExceeded) return { tooLarge: true, size: written.size };
    const messageId = messageIdFromHeaders(written.headerBlock);
    try {
      const result = await deps.writer.submit({
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
        receivedAt: now.toISOString(),
      }, written.dirs);
      if (result.duplicate && written.relPath) await deps.raw.remove(written.relPath);
      return { intakeId: result.id, messageId, duplicate: result.duplicate, size: written.size };
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
