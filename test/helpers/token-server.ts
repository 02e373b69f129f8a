import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * A real OAuth2 provider on 127.0.0.1 for R72's tests: its token endpoint (`/token`) issues
 * access tokens by the refresh-token or client-credentials grant (RFC 6749); a second listener,
 * the mail provider's own token check (`/introspect`, RFC 7662: always 200 with "active"),
 * validates them for Dovecot's oauth2 passdb, and `valid()` for the test's SMTP sink. The token
 * endpoint can refuse grants, answer 503, or go away (stop()) while the check stays up, as
 * when Microsoft's login endpoint is down but Exchange still knows its tokens.
 */
export class TokenServer {
  readonly clientId = 'deskgate-app';
  readonly clientSecret = 'app-secret-value';
  readonly refreshToken = 'refresh-token-value';
  /** expires_in of new tokens, in seconds. */
  lifetimeS = 3600;
  /** ok; refuse: 400 invalid_grant; unavailable: 503. */
  mode: 'ok' | 'refuse' | 'unavailable' = 'ok';
  /** As Microsoft does: each refresh-token grant answers a new refresh token (the old ones stay good until revoked). */
  rotate = false;
  /** Refresh tokens the endpoint honours. */
  readonly refreshTokens = new Set<string>([this.refreshToken]);
  /** Every /token request, in order. */
  readonly requests: Array<{ grant: string; clientId: string; scope: string | null; ok: boolean }> = [];
  /** The refresh token each refresh-token grant carried, and whether it was honoured. */
  readonly refreshesSent: Array<{ token: string; ok: boolean }> = [];
  /** Every /introspect request (Dovecot's checks). */
  introspections = 0;
  port = 0;
  private introspectPort = 0;
  private readonly tokens = new Map<string, { user: string; expiresAt: number }>();
  private server: Server | undefined;
  private introspector: Server | undefined;

  constructor(readonly user = 'support@acme.test') {}

  get tokenUrl(): string { return `http://127.0.0.1:${this.port}/token`; }
  get introspectionUrl(): string { return `http://127.0.0.1:${this.introspectPort}/introspect`; }
  /** Tokens issued so far. */
  get issued(): string[] { return [...this.tokens.keys()]; }

  async start(): Promise<this> {
    if (!this.introspector) {
      this.introspector = createServer((req, res) => void this.handle(req, res));
      await new Promise<void>((resolve) => this.introspector!.listen(0, '127.0.0.1', resolve));
      this.introspectPort = (this.introspector.address() as AddressInfo).port;
    }
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Both listeners gone (the end of the test). */
  async close(): Promise<void> {
    await this.stop();
    const s = this.introspector;
    this.introspector = undefined;
    if (s) { s.closeAllConnections(); await new Promise<void>((resolve) => s.close(() => resolve())); }
  }

  /** The token endpoint gone: connections are refused (the same port comes back with start()); the token check stays. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Whether a token is one this server issued and still honours. */
  valid(token: string, user = this.user): boolean {
    const t = this.tokens.get(token);
    return t !== undefined && t.user === user && Date.now() < t.expiresAt;
  }

  /** Every token issued so far stops being valid now (the provider expired or revoked them). */
  expireAll(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const json = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/introspect') {
      this.introspections++;
      const token = form.get('token') ?? '';
      return json(200, this.valid(token) ? { active: true, username: this.tokens.get(token)!.user, scope: 'mail' } : { active: false });
    }
    if (path !== '/token' || req.method !== 'POST') return json(404, { error: 'not_found' });
    const grant = form.get('grant_type') ?? '';
    const clientId = form.get('client_id') ?? '';
    const record = (ok: boolean) => {
      this.requests.push({ grant, clientId, scope: form.get('scope'), ok });
      if (grant === 'refresh_token') this.refreshesSent.push({ token: form.get('refresh_token') ?? '', ok });
    };
    if (this.mode === 'unavailable') { record(false); return json(503, { error: 'temporarily_unavailable' }); }
    const clientOk = clientId === this.clientId && (form.get('client_secret') ?? this.clientSecret) === this.clientSecret;
    const grantOk = grant === 'refresh_token' ? this.refreshTokens.has(form.get('refresh_token') ?? '') : grant === 'client_credentials' && form.get('client_secret') === this.clientSecret;
    if (this.mode === 'refuse' || !clientOk || !grantOk) {
      record(false);
      return json(400, { error: clientOk ? 'invalid_grant' : 'invalid_client', error_description: 'AADSTS70000: the grant is not valid' });
    }
    record(true);
    const token = `at-${randomBytes(12).toString('hex')}`;
    this.tokens.set(token, { user: this.user, expiresAt: Date.now() + this.lifetimeS * 1000 });
    let refresh = form.get('refresh_token') ?? this.refreshToken;
    if (grant === 'refresh_token' && this.rotate) this.refreshTokens.add((refresh = `rt-${randomBytes(12).toString('hex')}`));
    return json(200, { access_token: token, token_type: 'Bearer', expires_in: this.lifetimeS, ...(grant === 'refresh_token' ? { refresh_token: refresh } : {}) });
  }
}
