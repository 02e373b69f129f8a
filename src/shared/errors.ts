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

/** The code for an error nobody gave one: a bug, or a library error without a code. */
export const INTERNAL = 'INTERNAL';

const CODE = /^[A-Z][A-Z0-9_]*$/;

/**
 * The stable code of any thrown value: a DeskgateError's own, else a Node or SQLite error's
 * (ECONNREFUSED, SQLITE_BUSY, ERR_…), else `fallback`. Log lines and failed rows use it.
 */
export function errorCode(err: unknown, fallback: string = INTERNAL): string {
  if (err instanceof DeskgateError) return err.code;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && CODE.test(code)) return code;
  return fallback;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
