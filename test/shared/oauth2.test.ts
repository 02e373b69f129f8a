import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { TokenSource, refreshTokenKey, type OAuth2Settings, type RefreshTokenStore } from '../../src/shared/oauth2.js';
import { DeskgateError } from '../../src/shared/errors.js';
import { TokenServer } from '../helpers/token-server.js';
import { MovableClock } from '../helpers/clock.js';

/** R72: access tokens from a real HTTP token endpoint (only the clock is moved by the test). */
describe('R72: OAuth2 token source', () => {
  const server = new TokenServer();
  before(async () => { await server.start(); });
  after(async () => { await server.close(); });
  beforeEach(() => { server.mode = 'ok'; server.lifetimeS = 3600; server.requests.length = 0; });

  const refreshGrant = (): OAuth2Settings => ({ token_url: server.tokenUrl, client_id: server.clientId, client_secret: server.clientSecret, refresh_token: server.refreshToken, scope: 'https://outlook.office365.com/.default' });
  const appGrant = (): OAuth2Settings => ({ token_url: server.tokenUrl, client_id: server.clientId, client_secret: server.clientSecret, scope: 'https://outlook.office365.com/.default' });
  /** No secret in what an admin or a log could see. */
  const noSecrets = (text: string) => {
    for (const secret of [server.clientSecret, server.refreshToken, ...server.issued]) assert.ok(!text.includes(secret), `a secret in: ${text}`);
  };
  const rejectsWith = async (p: Promise<unknown>, code: string, re: RegExp) => {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof DeskgateError, String(err));
      assert.equal(err.code, code);
      assert.match(err.message, re);
      noSecrets(err.message + JSON.stringify(err.context));
      return true;
    });
  };

  it('R72: the refresh-token grant: one request, then the cached token until a fifth of its life is left', async () => {
    const clock = new MovableClock();
    const tokens = new TokenSource(refreshGrant(), { clock });
    assert.equal(tokens.grant, 'refresh_token');
    const first = await tokens.token();
    assert.ok(server.valid(first));
    assert.equal(await tokens.token(), first, 'cached');
    assert.deepEqual(server.requests, [{ grant: 'refresh_token', clientId: server.clientId, scope: 'https://outlook.office365.com/.default', ok: true }]);
    clock.advance(47 * 60_000);
    assert.equal(await tokens.token(), first, 'still cached 47 minutes into an hour');
    clock.advance(9 * 60_000);
    const second = await tokens.token();
    assert.notEqual(second, first, 'renewed 5 minutes before it expires');
    assert.equal(server.requests.length, 2);
    assert.equal(tokens.status().state, 'ok');
  });

  it('R72: the client-credentials grant when there is no refresh token; callers at once share one request', async () => {
    const tokens = new TokenSource(appGrant(), { clock: new MovableClock() });
    assert.equal(tokens.grant, 'client_credentials');
    const got = await Promise.all([tokens.token(), tokens.token(), tokens.token()]);
    assert.equal(new Set(got).size, 1);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0]!.grant, 'client_credentials');
  });

  it('R72: invalidate() after a refused login makes the next call fetch a new token, unless the refused one was already replaced', async () => {
    const tokens = new TokenSource(refreshGrant(), { clock: new MovableClock() });
    const first = await tokens.token();
    tokens.invalidate();
    const second = await tokens.token();
    assert.notEqual(second, first);
    assert.equal(server.requests.length, 2);
    // A second connection refused with the first token: the second token, newer, is kept.
    tokens.invalidate({ refused: first });
    assert.equal(await tokens.token(), second);
    tokens.invalidate({ refused: second });
    assert.notEqual(await tokens.token(), second);
    assert.equal(server.requests.length, 3);
  });

  it('R72: an endpoint that is down is OAUTH2_TOKEN_UNAVAILABLE, a 503 too; status says so; it recovers; no secret in any message', async () => {
    const results: boolean[] = [];
    const tokens = new TokenSource(refreshGrant(), { clock: new MovableClock(), timeoutMs: 3000, onResult: (ok) => results.push(ok) });
    await server.stop();
    try {
      await rejectsWith(tokens.token(), 'OAUTH2_TOKEN_UNAVAILABLE', /^token endpoint http:\/\/127\.0\.0\.1:\d+\/token unreachable: (ECONNREFUSED|the connection was closed)/);
      const st = tokens.status();
      assert.equal(st.state, 'error');
      assert.match(st.last_error!, /unreachable/);
    } finally {
      await server.start();
    }
    server.mode = 'unavailable';
    await rejectsWith(tokens.token(), 'OAUTH2_TOKEN_UNAVAILABLE', /answered 503 temporarily_unavailable/);
    server.mode = 'ok';
    assert.ok(server.valid(await tokens.token()));
    assert.equal(tokens.status().state, 'ok');
    assert.deepEqual(results, [false, false, true]);
  });

  it('R72: a refused grant is OAUTH2_TOKEN_REFUSED with the provider\'s words and what to do', async () => {
    server.mode = 'refuse';
    await rejectsWith(new TokenSource(refreshGrant(), { clock: new MovableClock() }).token(), 'OAUTH2_TOKEN_REFUSED', /answered 400 invalid_grant: AADSTS70000: the grant is not valid \(the refresh token expired or was revoked: get a new one\)/);
    server.mode = 'ok';
    await rejectsWith(new TokenSource({ ...appGrant(), client_secret: 'wrong-secret' }, { clock: new MovableClock() }).token(), 'OAUTH2_TOKEN_REFUSED', /invalid_client.*\(check client_id and client_secret\)/);
  });

  it('R72: a renewal that fails while the cached token has time left hands out the cached token', async () => {
    const clock = new MovableClock();
    const tokens = new TokenSource(refreshGrant(), { clock });
    const first = await tokens.token();
    clock.advance(56 * 60_000); // past the renewal point, 4 minutes before expiry
    server.mode = 'unavailable';
    assert.equal(await tokens.token(), first, 'the endpoint\'s outage costs nothing yet');
    assert.equal(tokens.status().state, 'error');
    clock.advance(3.5 * 60_000); // 30 s before expiry: no longer handed out
    await rejectsWith(tokens.token(), 'OAUTH2_TOKEN_UNAVAILABLE', /503/);
  });

  it('R72: a provider that echoes the refresh token or the secret in its error text gets them masked', async () => {
    const { createServer } = await import('node:http');
    const echo = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: `refresh token ${form.get('refresh_token')} for client secret ${form.get('client_secret')} is unknown` }));
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    try {
      const port = (echo.address() as { port: number }).port;
      await rejectsWith(new TokenSource({ ...refreshGrant(), token_url: `http://127.0.0.1:${port}/token` }, { clock: new MovableClock() }).token(),
        'OAUTH2_TOKEN_REFUSED', /refresh token \*\*\* for client secret \*\*\* is unknown/);
    } finally {
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    }
  });

  it('R72: a rotated refresh token is kept in the store, and the next start uses it; a kept one that is refused falls back to the configured one', async () => {
    server.rotate = true;
    try {
      const kept = new Map<string, string>();
      const store = (s: OAuth2Settings): RefreshTokenStore => ({ load: async () => kept.get(refreshTokenKey(s)), save: async (t) => { kept.set(refreshTokenKey(s), t); } });
      const clock = new MovableClock();
      await new TokenSource(refreshGrant(), { clock, store: store(refreshGrant()) }).token();
      const rotated = kept.get(refreshTokenKey(refreshGrant()));
      assert.match(rotated ?? '', /^rt-/, 'the new refresh token is kept');
      assert.equal(server.refreshesSent.at(-1)!.token, server.refreshToken);
      // A restart: a new source, the same store.
      await new TokenSource(refreshGrant(), { clock, store: store(refreshGrant()) }).token();
      assert.equal(server.refreshesSent.at(-1)!.token, rotated, 'the kept token is the one sent');
      // The provider revoked the kept one: the configured one is tried once, and works.
      server.refreshTokens.delete(kept.get(refreshTokenKey(refreshGrant()))!);
      server.refreshesSent.length = 0;
      await new TokenSource(refreshGrant(), { clock, store: store(refreshGrant()) }).token();
      assert.deepEqual(server.refreshesSent.map((r) => [r.ok, r.token === server.refreshToken]), [[false, false], [true, true]]);
      // A bad client secret (invalid_client) is not the kept token's fault: no second request with the configured one.
      server.refreshesSent.length = 0;
      const badClient = { ...refreshGrant(), client_secret: 'wrong' };
      kept.set(refreshTokenKey(badClient), [...server.refreshTokens].at(-1)!);
      await assert.rejects(new TokenSource(badClient, { clock, store: store(badClient) }).token(), /invalid_client/);
      assert.equal(server.refreshesSent.length, 1);
      // A new refresh token in the config is a new key: nothing kept applies to it.
      assert.notEqual(refreshTokenKey({ ...refreshGrant(), refresh_token: 'another' }), refreshTokenKey(refreshGrant()));
      assert.ok(!refreshTokenKey(refreshGrant()).includes(server.refreshToken), 'the key does not reveal the token');
    } finally {
      server.rotate = false;
    }
  });
});
