import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { automatedReason, preRulesSuspension, type TrustCheckInput } from '../../src/rules/index.js';
import { trustedAuthResults } from '../../src/trust/index.js';
import { inspectHeaders, LineEndingGuard } from '../../src/ingest/header-checks.js';
import type { TrustHeaders } from '../../src/parse/index.js';
import { makeEnv } from '../helpers/env.js';
import { runCli, cliJson } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';

const none: TrustHeaders = { autoSubmitted: null, precedence: null, xAutoreply: null, xAutorespond: null, xAutoResponseSuppress: null, listId: null, listUnsubscribe: null, authenticationResults: [] };

describe('R42 automated mail', () => {
  const cases: Array<[string, Partial<TrustHeaders>, string | null, boolean, boolean]> = [
    ['a person', {}, 'carol@x.test', false, false],
    ['Auto-Submitted: auto-replied', { autoSubmitted: 'auto-replied' }, 'a@x.test', false, true],
    ['Auto-Submitted: auto-generated; with params', { autoSubmitted: 'auto-generated; owner-email="a@b"' }, 'a@x.test', false, true],
    ['Auto-Submitted: no is a person', { autoSubmitted: 'no' }, 'a@x.test', false, false],
    ['Precedence: bulk', { precedence: 'bulk' }, 'a@x.test', false, true],
    ['Precedence: junk', { precedence: 'junk' }, 'a@x.test', false, true],
    ['Precedence: list', { precedence: 'list' }, 'a@x.test', false, true],
    ['Precedence: auto_reply', { precedence: 'auto_reply' }, 'a@x.test', false, true],
    ['Precedence: first-class is a person', { precedence: 'first-class' }, 'a@x.test', false, false],
    ['X-Autoreply', { xAutoreply: 'yes' }, 'a@x.test', false, true],
    ['X-Autorespond', { xAutorespond: 'x' }, 'a@x.test', false, true],
    ['X-Auto-Response-Suppress: All', { xAutoResponseSuppress: 'All' }, 'a@x.test', false, true],
    ['X-Auto-Response-Suppress: DR, AutoReply', { xAutoResponseSuppress: 'DR, AutoReply' }, 'a@x.test', false, true],
    ['X-Auto-Response-Suppress: OOF only is a person', { xAutoResponseSuppress: 'OOF' }, 'a@x.test', false, false],
    ['List-Id with Precedence', { listId: '<l.x>', precedence: 'normal' }, 'a@x.test', false, true],
    ['List-Unsubscribe alone is a person (newsletters must also say Precedence)', { listUnsubscribe: '<mailto:u@x>' }, 'a@x.test', false, false],
    ['a null envelope sender', {}, 'a@x.test', true, true],
    ['mailer-daemon@', {}, 'MAILER-DAEMON@x.test'.toLowerCase(), false, true],
    ['postmaster@', {}, 'postmaster@x.test', false, true],
    ['no-reply@', {}, 'no-reply@x.test', false, true],
    ['noreply@', {}, 'noreply@x.test', false, true],
  ];
  for (const [name, h, sender, nullSender, expected] of cases) {
    it(`R42: ${name}`, () => assert.equal(automatedReason({ ...none, ...h }, sender, nullSender) !== null, expected));
  }
});

describe('R43/R45 checks before the rules', () => {
  const base: TrustCheckInput = { fromSupportAddress: false, senderCountBefore: 0, perSenderPerHour: 20, dmarc: null, dmarcPolicy: null, skip: [] };
  const cases: Array<[string, Partial<TrustCheckInput>, string | null]> = [
    ['R43: from a support address', { fromSupportAddress: true }, 'from_support_address'],
    ['R43: the 20th of the hour is processed', { senderCountBefore: 19 }, null],
    ['R43: the 21st is suspended', { senderCountBefore: 20 }, 'email_loop'],
    ['R45: DMARC fail with p=reject', { dmarc: 'fail', dmarcPolicy: 'reject' }, 'failed_dmarc'],
    ['R45: DMARC fail with p=quarantine is not suspended here', { dmarc: 'fail', dmarcPolicy: 'quarantine' }, null],
    ['R41: a released message skips the check that held it', { senderCountBefore: 30, skip: ['email_loop'] }, null],
  ];
  for (const [name, over, expected] of cases) {
    it(name, () => assert.equal(preRulesSuspension({ ...base, ...over })?.reason ?? null, expected));
  }
});

describe('R44 trusted Authentication-Results', () => {
  const ours = 'mail.acme.test; spf=pass smtp.mailfrom=bob@acme.test; dkim=pass header.d=acme.test; dmarc=pass header.from=acme.test';
  const forged = 'evil.test; spf=pass; dkim=pass; dmarc=pass';
  it('R44: reads the trusted server\'s header only', async () => {
    assert.deepEqual(trustedAuthResults([ours], 'mail.acme.test'), { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    assert.equal(trustedAuthResults([forged], 'mail.acme.test'), null);
    assert.equal(trustedAuthResults([ours], undefined), null);
  });
  it('R44: missing methods are none; the top-most trusted header wins', async () => {
    assert.deepEqual(trustedAuthResults(['MAIL.ACME.TEST 1; spf=softfail', ours], 'mail.acme.test'), { spf: 'softfail', dkim: 'none', dmarc: 'none' });
  });
});

describe('R45 SMTP-time header checks', () => {
  it('counts From addresses (groups and lists included)', async () => {
    assert.deepEqual(inspectHeaders('From: "A, B" <a@x.test>\r\nTo: s@y.test'), { sender: 'a@x.test', fromCount: 1 });
    assert.equal(inspectHeaders('From: a@x.test, b@x.test').fromCount, 2);
    assert.equal(inspectHeaders('From: a@x.test\r\nFrom: b@x.test').fromCount, 2);
  });
  const endings: Array<[string, string[], boolean]> = [
    ['CRLF only', ['a\r\nb\r\n'], false],
    ['CRLF split across chunks', ['a\r', '\nb\r\n'], false],
    ['bare LF', ['a\nb'], true],
    ['bare CR', ['a\rb'], true],
    ['CR at the very end', ['a\r'], true],
  ];
  for (const [name, chunks, bare] of endings) {
    it(`line endings: ${name}`, async () => {
      const g = new LineEndingGuard();
      for (const c of chunks) g.feed(Buffer.from(c));
      assert.equal(g.finish(), bare);
    });
  }
});

describe('R44 for piped mail: Authentication-Results of the trusted server id only', () => {
  const env = makeEnv((c) => { c.trust = { verify: true, trusted_authserv_id: 'mail.acme.test' }; });
  after(() => env.cleanup());
  it('an agent\'s piped mail with the trusted server\'s dmarc=pass has agent powers; a forged header does not', async () => {
    const good = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ from: 'Bob <bob@acme.test>', subject: 'Internal', headers: { 'Authentication-Results': 'mail.acme.test; spf=pass smtp.mailfrom=acme.test; dkim=pass header.d=acme.test; dmarc=pass header.from=acme.test' } }) });
    assert.equal((JSON.parse(good.stdout) as { status: string }).status, 'done');
    const t = await cliJson(['tickets', 'show', String((JSON.parse(good.stdout) as { ticket_id: number }).ticket_id), '-c', env.configPath]);
    assert.deepEqual(t.comments[0].auth, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    const bad = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ from: 'Bob <bob@acme.test>', subject: 'Forged', headers: { 'Authentication-Results': 'evil.test; dmarc=pass' } }) });
    assert.equal((JSON.parse(bad.stdout) as { status: string }).status, 'suspended');
  });
});
