import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { SmtpSink } from '../helpers/sink.js';
import { TokenServer } from '../helpers/token-server.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * R72, R59: notifications through a smarthost that takes only SASL XOAUTH2 (as Exchange Online's
 * SMTP AUTH does), with tokens by the client-credentials grant from a real token endpoint. The
 * sink checks every token with that endpoint's provider.
 */
describe('R72: the smarthost with OAuth2 (XOAUTH2)', () => {
  const tokens = new TokenServer('notify@acme.test');
  /** The smarthost refuses every login while set (an app whose SMTP permission was taken away). */
  let refuseAll = false;
  const sink = new SmtpSink({ xoauth2: (user, token) => !refuseAll && tokens.valid(token, user) });
  let env: TestEnv;
  let d: Daemon & { port: number };

  before(async () => {
    await tokens.start();
    await sink.start();
    env = makeEnv((c) => {
      c.outbound = {
        smtp: { host: '127.0.0.1', port: sink.port, secure: false, auth: { user: tokens.user, oauth2: { token_url: tokens.tokenUrl, client_id: tokens.clientId, client_secret: tokens.clientSecret, scope: 'https://outlook.office365.com/.default' } } },
        retry_initial: '100ms', retry_max: '400ms', retry_for: '1h',
      };
    });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d?.stop();
    await sink.stop();
    await tokens.close();
    env?.cleanup();
  });

  /** A new ticket by SMTP; resolves with the subjects of the mail the smarthost then took for it. */
  async function newTicket(subject: string): Promise<string[]> {
    const before = sink.messages.length;
    assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('oauth-out'), subject })), /^250 /);
    await waitFor(async () => {
      const rows = await d.app.outbox.list();
      return rows.length > 0 && rows.every((r) => r.status === 'sent') && sink.messages.length > before ? rows : undefined;
    }, `the notifications for "${subject}" sent`, 30_000);
    return sink.messages.slice(before).map((m) => m.mail.subject ?? '');
  }
  /** The smarthost drops its connections (nodemailer's pool then logs in again). */
  const restartSink = async () => { await sink.stop(); await sink.start(sink.port); };

  it('R72: notifications go out over an XOAUTH2 login with a client-credentials token', async () => {
    const subjects = await newTicket('Printer on fire');
    assert.ok(subjects.some((s) => s.includes('Printer on fire')), subjects.join(' | '));
    assert.ok(sink.logins.length >= 1 && sink.logins.every((l) => l.ok && l.user === tokens.user), JSON.stringify(sink.logins));
    assert.deepEqual(tokens.requests.map((r) => [r.grant, r.ok]), [['client_credentials', true]], 'one token for every connection of the pool');
  });

  it('R72: a token the smarthost refuses is renewed once and the mail goes out', async () => {
    tokens.expireAll();
    await restartSink();
    const logins = sink.logins.length;
    const requests = tokens.requests.length;
    await newTicket('Scanner jammed');
    const now = sink.logins.slice(logins);
    // A pooled connection that logged in with the old token was refused once, then let in; one
    // that opened after the renewal logs in with the new token at once.
    assert.equal(now[0]!.ok, false, 'the cached token was refused');
    assert.ok(now.some((l) => l.ok), JSON.stringify(now));
    assert.ok(now.filter((l) => !l.ok).length <= now.filter((l) => l.ok).length, `at most one refusal per connection: ${JSON.stringify(now)}`);
    assert.equal(tokens.requests.length, requests + 1, 'one new token for all of them');
  });

  it('R72, R59: with the token endpoint down the notification is deferred, not failed, and goes out once it is back', async () => {
    tokens.expireAll();
    await tokens.stop();
    await restartSink();
    const before = sink.messages.length;
    assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('oauth-down'), subject: 'Sent while the token endpoint was down' })), /^250 /);
    const deferred = await waitFor(async () => (await d.app.outbox.list()).find((r) => r.status === 'deferred'), 'a deferred notification', 30_000);
    assert.match(deferred.last_error ?? '', /EAUTH|token endpoint/);
    assert.ok(!JSON.stringify(await d.app.outbox.list()).includes(tokens.clientSecret), 'no secret in the outbox');
    assert.equal((await d.app.outbox.list()).filter((r) => r.status === 'failed').length, 0);
    assert.equal(sink.messages.length, before);
    await tokens.start();
    await waitFor(async () => (await d.app.outbox.list()).every((r) => r.status === 'sent') || undefined, 'sent after the endpoint came back', 30_000);
    assert.ok(sink.messages.slice(before).some((m) => m.mail.subject?.includes('Sent while the token endpoint was down')));
  });

  it('R72, R59: a login the smarthost refuses even with a new token (535) defers the notification instead of failing it; it goes out once the login works', async () => {
    refuseAll = true;
    await restartSink();
    const before = sink.messages.length;
    try {
      assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('oauth-535'), subject: 'Sent while SMTP AUTH was refused' })), /^250 /);
      const deferred = await waitFor(async () => (await d.app.outbox.list()).find((r) => r.status === 'deferred' && /535/.test(r.last_error ?? '')), 'a notification deferred on 535', 30_000);
      assert.ok(deferred.attempts >= 1);
      assert.equal((await d.app.outbox.list()).filter((r) => r.status === 'failed').length, 0, 'a refused login is the smarthost\'s config, never the message\'s');
    } finally {
      refuseAll = false;
    }
    await waitFor(async () => (await d.app.outbox.list()).every((r) => r.status === 'sent') || undefined, 'sent once the login works', 30_000);
    assert.ok(sink.messages.slice(before).some((m) => m.mail.subject?.includes('Sent while SMTP AUTH was refused')));
  });
});

describe('R72: a delegated smarthost login whose refresh token the provider rotates', () => {
  const tokens = new TokenServer('support@acme.test');
  const sink = new SmtpSink({ xoauth2: (user, token) => tokens.valid(token, user) });
  let env: TestEnv;
  let d: (Daemon & { port: number }) | undefined;
  before(async () => {
    tokens.rotate = true;
    await tokens.start();
    await sink.start();
    env = makeEnv((c) => {
      c.outbound = {
        smtp: { host: '127.0.0.1', port: sink.port, secure: false, auth: { user: tokens.user, oauth2: { token_url: tokens.tokenUrl, client_id: tokens.clientId, client_secret: tokens.clientSecret, refresh_token: tokens.refreshToken } } },
        retry_initial: '100ms', retry_max: '400ms', retry_for: '1h',
      };
    });
  });
  after(async () => {
    await d?.stop();
    await sink.stop();
    await tokens.close();
    env?.cleanup();
  });

  const sentFor = async (subject: string) => {
    assert.match(await sendMail(d!.port, SUPPORT, mail({ messageId: uniqueId('rotate'), subject })), /^250 /);
    await waitFor(() => (sink.messages.some((m) => m.mail.subject?.includes(subject)) ? true : undefined), `a notification for "${subject}"`, 30_000);
  };

  it('R72: the rotated refresh token is kept in the database, and after a restart it is the one sent', async () => {
    d = await startTestDaemon(env);
    await sentFor('Before the restart');
    assert.deepEqual(tokens.refreshesSent.map((r) => r.token), [tokens.refreshToken]);
    const kept = await d.app.sql.value<string>("SELECT value FROM meta WHERE key LIKE 'oauth2_refresh:%'");
    assert.match(kept ?? '', /^rt-/, 'the rotated token is in meta');
    assert.ok(tokens.refreshTokens.has(kept!));
    await d.stop();
    // The provider no longer takes the configured token (past its lifetime): only the kept one works.
    tokens.refreshTokens.delete(tokens.refreshToken);
    d = await startTestDaemon(env);
    await sentFor('After the restart');
    assert.deepEqual(tokens.refreshesSent.slice(1), [{ token: kept, ok: true }]);
  });
});
