/**
 * Errors that cross stage boundaries carry a stable code (stage prefix, UPPER_SNAKE) and,
 * where the SMTP client must see it, an SMTP reply code. Only ingest/ maps smtpCode onto
 * smtp-server's responseCode.
 */
export class DeskgateError extends Error {
  readonly code: string;
  readonly smtpCode: number | undefined;
  readonly context: Record<string, unknown>;

  constructor(code: string, message: string, opts: { smtpCode?: number; cause?: unknown; context?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DeskgateError';
    this.code = code;
    this.smtpCode = opts.smtpCode;
    this.context = opts.context ?? {};
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
