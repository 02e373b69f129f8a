import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, runCli } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { Dovecot, IMAP_USER } from '../helpers/dovecot.js';
import { TokenServer } from '../helpers/token-server.js';
import { accountKey } from '../../src/ingest/index.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * R72: an IMAP account that logs in with SASL XOAUTH2/OAUTHBEARER, against a real Dovecot whose
 * oauth2 passdb asks the test's token server (the same one deskgate gets its tokens from)
 * whether a token is good, as Microsoft 365 and Google do with theirs.
 */
describe('R72: IMAP with OAuth2 against a real Dovecot', () => {
  const tokens = new TokenServer(IMAP_USER);
  let dovecot: Dovecot;
  let env: TestEnv;
  let d: Daemon & { port: number };
  const account = () => ({
    host: '127.0.0.1', port: dovecot.port, secure: false, user: IMAP_USER, mailbox: 'INBOX', processed_mailbox: 'Processed', poll_interval: '1s', idle: true,
    oauth2: { token_url: tokens.tokenUrl, client_id: tokens.clientId, client_secret: tokens.clientSecret, refresh_token: tokens.refreshToken, scope: 'https://outlook.office365.com/.default' },
  });

  before(async () => {
    await tokens.start();
    dovecot = await new Dovecot({ oauth2: { introspectionUrl: tokens.introspectionUrl } }).start();
    env = makeEnv((c) => { c.imap = [account()]; c.metrics = { listen: '127.0.0.1:0' }; });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d?.stop();
    await dovecot?.destroy();
    await tokens.close();
    env?.cleanup();
  });

  const key = () => accountKey(env.config.imap[0]!);
  const waitComment = (messageId: string, ms = 20_000) => waitFor(async () => (await d.app.sql.column<number>('SELECT ticket_id FROM comments WHERE message_id = ?', [messageId]))[0], `comment ${messageId}`, ms);
  /** /healthz's view of the account's token (R72). */
  const healthToken = async () => ((await (await fetch(`http://127.0.0.1:${d.metricsPort}/healthz`)).json()) as { oauth2: Array<{ login: string; state: string; last_error: string | null }> }).oauth2;
  const status = async () => (await d.app.sql.get<{ state: string; last_error: string | null }>('SELECT state, last_error FROM imap_state WHERE account = ?', [key()]))!;

  it('R72: imports mail over an XOAUTH2 login, with one token from the refresh-token grant', async () => {
    const id = uniqueId('oauth-imap');
    await dovecot.append('INBOX', mail({ messageId: id, subject: 'Via an OAuth2 mailbox' }));
    const ticketId = await waitComment(id);
    assert.equal((await d.app.views.show(ticketId))!.subject, 'Via an OAuth2 mailbox');
    assert.deepEqual(tokens.requests.map((r) => [r.grant, r.ok]), [['refresh_token', true]]);
    assert.ok(tokens.introspections >= 1, 'Dovecot checked the token with the token server');
    assert.deepEqual((await healthToken()).map((t) => [t.login, t.state]), [[`imap:${key()}`, 'ok']]);
  });

  it('R72: a token that expires mid-session: the session carries on, and the next login is refused once, renewed and goes on', async () => {
    tokens.expireAll(); // the provider ends the token early; the open session is not affected
    const during = uniqueId('oauth-during');
    await dovecot.append('INBOX', mail({ messageId: during, subject: 'While the token lapsed' }));
    await waitComment(during);
    const before = tokens.requests.length;
    // The server drops the session (as Exchange does after a while): the cached token is refused.
    dovecot.kick();
    const after = uniqueId('oauth-after');
    await dovecot.append('INBOX', mail({ messageId: after, subject: 'After the reconnect' }));
    await waitComment(after, 30_000);
    assert.equal(tokens.requests.length, before + 1, 'one new token after the refusal');
    assert.match(dovecot.log(), /auth failed, 1 attempts.*method=OAUTHBEARER/, 'Dovecot refused the expired token first');
    assert.equal((await status()).state === 'idle' || (await status()).state === 'polling', true);
  });

  it('R72: the token endpoint down: back-off, imap status and the metrics say so, SMTP is unaffected; then it recovers', async () => {
    await tokens.stop();
    tokens.expireAll();
    dovecot.kick(); // the session ends; a new login needs a new token, and the endpoint is gone
    await waitFor(async () => /token endpoint .* unreachable/.test((await status()).last_error ?? '') || undefined, 'imap status to name the token endpoint', 20_000);
    assert.match(await d.app.metrics.render(), /deskgate_oauth2_token_requests_total\{login="imap:[^"]+",result="error"\} [1-9]/);
    const [health] = await healthToken();
    assert.equal(health!.state, 'error');
    assert.match(health!.last_error!, /token endpoint .* unreachable/);
    const cli = await runCli(['imap', 'status', '--json', '-c', env.configPath]);
    const row = (JSON.parse(cli.stdout) as Array<{ account: string; auth: string; last_error: string }>)[0]!;
    assert.equal(row.auth, 'oauth2 (refresh_token)');
    assert.match(row.last_error, /token endpoint http:\/\/127\.0\.0\.1:\d+\/token unreachable/);
    for (const secret of [tokens.clientSecret, tokens.refreshToken]) assert.ok(!cli.stdout.includes(secret));
    // Meanwhile the MX takes mail as ever.
    const viaSmtp = uniqueId('oauth-smtp');
    assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: viaSmtp, subject: 'SMTP during the outage' })), /^250 /);
    await waitComment(viaSmtp);
    const queued = uniqueId('oauth-queued');
    await dovecot.append('INBOX', mail({ messageId: queued, subject: 'Waiting for the token endpoint' }));
    await tokens.start(); // the same port again
    await waitComment(queued, 60_000);
    assert.match(await d.app.metrics.render(), /deskgate_oauth2_token_requests_total\{login="imap:[^"]+",result="ok"\} [2-9]/);
  });

  it('R72: deskgate imap test logs in with a token and says what it found; a refused grant is named with what to do', async () => {
    const ok = await runCli(['imap', 'test', '-c', env.configPath]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /: OK\n  ok +token +access token from 127\.0\.0\.1:\d+ \(refresh_token grant\)\n  ok +connect .*\n  ok +login +logged in as support@acme\.test with XOAUTH2\n  ok +mailbox +INBOX: \d+ messages/);
    tokens.mode = 'refuse';
    try {
      const refused = await runCli(['imap', 'test', IMAP_USER, '-c', env.configPath]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /FAILED token +token endpoint .* answered 400 invalid_grant: .*\(the refresh token expired or was revoked: get a new one\)/);
      for (const secret of [tokens.clientSecret, tokens.refreshToken]) assert.ok(!refused.stdout.includes(secret) && !refused.stderr.includes(secret));
    } finally {
      tokens.mode = 'ok';
    }
    const unknown = await runCli(['imap', 'test', 'nobody@acme.test', '-c', env.configPath]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no imap: account nobody@acme\.test in the config/);
  });
});
