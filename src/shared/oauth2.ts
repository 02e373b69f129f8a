import { createHash } from 'node:crypto';
import { DeskgateError, errorMessage } from './errors.js';
import type { Clock } from './clock.js';

/** imap[].oauth2 and outbound.smtp.auth.oauth2 (R72). */
export interface OAuth2Settings {
  token_url: string;
  client_id: string;
  client_secret?: string | undefined;
  /** Present: the refresh-token grant (a delegated mailbox); absent: client credentials (an app's own access). */
  refresh_token?: string | undefined;
  scope?: string | undefined;
}

export interface TokenStatus {
  /** ok: a token is cached; error: the last request failed; none: none asked for yet. */
  state: 'ok' | 'error' | 'none';
  expires_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

/** What a token endpoint answers (RFC 6749 5.1 and 5.2). */
interface TokenResponse { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown; error?: unknown; error_description?: unknown }

/** R72: persistence for rotated refresh tokens (the database's meta table, see refreshTokenKey). */
export interface RefreshTokenStore {
  load(): Promise<string | undefined>;
  save(token: string): Promise<void>;
}

/**
 * The key a rotated refresh token is kept under: a digest of the login's endpoint, client and
 * configured refresh token, so a new token in the config starts afresh and nothing in the key
 * reveals the token.
 */
export function refreshTokenKey(s: OAuth2Settings): string {
  return `oauth2_refresh:${createHash('sha256').update(`${s.token_url}\n${s.client_id}\n${s.refresh_token ?? ''}`).digest('hex').slice(0, 32)}`;
}

/** A token is renewed this long before it expires (a fifth of its life when that is shorter), so a login never carries one about to lapse. */
const RENEW_BEFORE_MS = 5 * 60_000;
/** An endpoint that answers no expires_in: assume Microsoft's and Google's hour, renewed early. */
const DEFAULT_LIFETIME_S = 3600;
const REQUEST_TIMEOUT_MS = 15_000;

/**
 * R72: access tokens for one mailbox login from a token endpoint (RFC 6749), by the
 * refresh-token grant or the client-credentials grant. A token is cached until shortly before
 * it expires; concurrent callers share one request; `invalidate()` after a refused login makes
 * the next call fetch a new one. Failures are DeskgateErrors with `temporary: true`: the caller
 * backs off and tries again, and nothing else stops. Secrets (client secret, refresh token,
 * access token) are never part of an error or a log line.
 */
export class TokenSource {
  private cached: { token: string; expiresAt: number; renewAt: number } | undefined;
  private inflight: Promise<string> | undefined;
  private refreshToken: string | undefined;
  private lastError: { message: string; at: number } | undefined;
  private loaded = false;

  constructor(private readonly settings: OAuth2Settings, private readonly opts: {
    clock: Clock; timeoutMs?: number; onResult?: (ok: boolean) => void;
    /** Where a refresh token the provider rotated is kept, so a restart does not fall back to the configured one. */
    store?: RefreshTokenStore | undefined;
  }) {
    this.refreshToken = settings.refresh_token;
  }

  get grant(): 'refresh_token' | 'client_credentials' {
    return this.settings.refresh_token ? 'refresh_token' : 'client_credentials';
  }

  /**
   * A valid access token: the cached one, or a new one from the endpoint. A renewal that fails
   * while the cached token still has a minute left returns the cached one (and is tried again
   * on the next call): an endpoint's short outage costs nothing then.
   */
  async token(): Promise<string> {
    const now = this.opts.clock.now().getTime();
    const cached = this.cached;
    if (cached && now < cached.renewAt) return cached.token;
    this.inflight ??= this.request().finally(() => { this.inflight = undefined; });
    try {
      return await this.inflight;
    } catch (err) {
      if (cached && this.cached === cached && this.opts.clock.now().getTime() < cached.expiresAt - Math.min(60_000, (cached.expiresAt - cached.renewAt) / 2)) return cached.token;
      throw err;
    }
  }

  /** Until when the cached token is handed out without asking (a caller's own cache may keep it that long). */
  get renewAt(): number {
    return this.cached?.renewAt ?? 0;
  }

  /**
   * The server refused a token (expired early, revoked): the next token() asks anew. `refused`
   * names the token that was refused when the caller knows it: a token fetched since (another
   * connection already renewed it) is kept.
   */
  invalidate(opts: { refused?: string } = {}): void {
    if (this.cached && (opts.refused === undefined || opts.refused === this.cached.token)) this.cached = undefined;
  }

  status(): TokenStatus {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      // A success clears the error: an error here means the last request failed.
      state: this.lastError ? 'error' : this.cached ? 'ok' : 'none',
      expires_at: iso(this.cached?.expiresAt),
      last_error: this.lastError?.message ?? null,
      last_error_at: iso(this.lastError?.at),
    };
  }

  /**
   * The refresh-token grant with the newest refresh token: the one kept after a rotation, when
   * there is one. Refused with it (revoked), the configured one is tried once before giving up.
   */
  private async request(): Promise<string> {
    if (!this.settings.refresh_token || !this.opts.store) return this.requestOnce();
    if (!this.loaded) {
      this.loaded = true;
      this.refreshToken = (await this.opts.store.load().catch(() => undefined)) ?? this.refreshToken;
    }
    try {
      return await this.requestOnce();
    } catch (err) {
      // Only a refused grant is the kept token's fault (a bad client secret is not).
      if ((err as DeskgateError).context?.oauth_error !== 'invalid_grant' || this.refreshToken === this.settings.refresh_token) throw err;
      this.refreshToken = this.settings.refresh_token;
      try {
        return await this.requestOnce();
      } catch (again) {
        this.loaded = false; // both refused: read the store again next time (another node may have a newer one)
        throw again;
      }
    }
  }

  private async requestOnce(): Promise<string> {
    const s = this.settings;
    const form = new URLSearchParams({ grant_type: this.grant, client_id: s.client_id });
    if (s.client_secret) form.set('client_secret', s.client_secret);
    if (this.refreshToken) form.set('refresh_token', this.refreshToken);
    if (s.scope) form.set('scope', s.scope);
    const where = endpointName(s.token_url);
    try {
      let res: Response;
      try {
        res = await fetch(s.token_url, {
          method: 'POST', body: form, redirect: 'error',
          headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        throw this.fail('OAUTH2_TOKEN_UNAVAILABLE', `token endpoint ${where} unreachable: ${causeOf(err)}`);
      }
      const body = (await res.json().catch(() => ({}))) as TokenResponse;
      if (!res.ok || typeof body.access_token !== 'string' || body.access_token === '') {
        const oauthError = typeof body.error === 'string' ? body.error.replace(/[^\w.-]/g, '') : undefined;
        const detail = typeof body.error_description === 'string' ? `: ${this.scrub(body.error_description).replace(/[\r\n]+/g, ' ').slice(0, 300)}` : '';
        // invalid_grant/invalid_client: the credentials are wrong, expired or revoked; the
        // admin must act, but it is still retried (a fixed config is picked up on reload).
        const code = res.status >= 400 && res.status < 500 && res.status !== 429 ? 'OAUTH2_TOKEN_REFUSED' : 'OAUTH2_TOKEN_UNAVAILABLE';
        throw this.fail(code, `token endpoint ${where} answered ${res.status}${oauthError ? ` ${oauthError}` : ''}${detail}${hint(oauthError, this.grant)}`, oauthError);
      }
      const given = typeof body.expires_in === 'number' || typeof body.expires_in === 'string' ? Number(body.expires_in) : DEFAULT_LIFETIME_S;
      const lifetimeMs = (Number.isFinite(given) && given > 0 ? given : DEFAULT_LIFETIME_S) * 1000;
      const now = this.opts.clock.now().getTime();
      this.cached = { token: body.access_token, expiresAt: now + lifetimeMs, renewAt: now + lifetimeMs - Math.min(RENEW_BEFORE_MS, lifetimeMs / 5) };
      // Microsoft rotates refresh tokens: use the newest (the old one keeps working until it expires).
      if (this.refreshToken && typeof body.refresh_token === 'string' && body.refresh_token !== '' && body.refresh_token !== this.refreshToken) {
        this.refreshToken = body.refresh_token;
        // Kept for the next start; should the write fail, this process still has it in memory.
        await this.opts.store?.save(body.refresh_token).catch(() => {});
      }
      this.lastError = undefined;
      this.opts.onResult?.(true);
      return body.access_token;
    } catch (err) {
      if (err instanceof DeskgateError) throw err;
      throw this.fail('OAUTH2_TOKEN_UNAVAILABLE', `token endpoint ${where}: ${errorMessage(err)}`);
    }
  }

  /** The provider's own words may echo what was sent: never the secrets. */
  private scrub(text: string): string {
    let out = text;
    for (const secret of [this.settings.client_secret, this.settings.refresh_token, this.refreshToken]) if (secret) out = out.split(secret).join('***');
    return out;
  }

  private fail(code: string, message: string, oauthError?: string): DeskgateError {
    this.lastError = { message, at: this.opts.clock.now().getTime() };
    this.opts.onResult?.(false);
    return new DeskgateError(code, message, { context: { temporary: true, ...(oauthError ? { oauth_error: oauthError } : {}) } });
  }
}

/** The endpoint as logs may show it: scheme, host and path, never a query (which could hold a secret). */
function endpointName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if ((err as Error).name === 'TimeoutError') return 'no answer in time';
  if (cause?.code === 'UND_ERR_SOCKET') return 'the connection was closed';
  return cause?.code ?? cause?.message ?? errorMessage(err);
}

/** What an admin should do about the usual refusals. */
function hint(oauthError: string | undefined, grant: string): string {
  if (oauthError === 'invalid_grant') return grant === 'refresh_token' ? ' (the refresh token expired or was revoked: get a new one)' : ' (check scope and the app\'s permissions)';
  if (oauthError === 'invalid_client' || oauthError === 'unauthorized_client') return ' (check client_id and client_secret)';
  if (oauthError === 'invalid_scope') return ' (check scope)';
  return '';
}
