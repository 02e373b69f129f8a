import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, ConfigError } from '../../src/config/index.js';
import { runCli, ROOT } from '../helpers/daemon.js';

const minimal = 'support_addresses:\n  - { address: support@acme.test }\n';

function problems(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfigText(text, '/etc/deskgate/deskgate.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a config error');
}

describe('config loading', () => {
  it('fills every default from one schema', async () => {
    const c = parseConfigText(minimal, '/etc/deskgate/deskgate.yaml', {});
    assert.equal(c.smtp.max_message_size, 25 * 1024 * 1024);
    assert.deepEqual(c.smtp.listen, [{ host: '127.0.0.1', port: 2525 }]);
    assert.equal(c.outbound.retry_initial, 60_000);
    assert.equal(c.outbound.retry_for, 2 * 86_400_000);
    assert.equal(c.ccs.max, 48);
    assert.equal(c.email.reply_line, '##- Please type your reply above this line -##');
    assert.equal(c.data_dir, '/etc/deskgate/data', 'relative paths are relative to the config file');
  });
  it('reports broken YAML with its line', async () => {
    const p = problems(`${minimal}smtp:\n  listen: [ { host: 1\n`);
    assert.match(p[0]!.message, /YAML syntax/);
    assert.ok(p[0]!.line !== undefined && p[0]!.line >= 3);
  });
  it('reports an invalid value with its key path and line', async () => {
    const p = problems(`${minimal}smtp:\n  max_message_size: lots\n  listen:\n    - { host: 0.0.0.0, port: "twenty-five" }\n`);
    const paths = p.map((x) => `${x.path}@${x.line}`);
    assert.ok(paths.includes('smtp.max_message_size@4'), paths.join(' '));
    assert.ok(paths.includes('smtp.listen[0].port@6'), paths.join(' '));
  });
  it('reports unknown keys (typos) by path', async () => {
    const p = problems(`${minimal}ccs: { enabeld: false }\n`);
    assert.equal(p[0]!.path, 'ccs');
    assert.match(p[0]!.message, /enabeld/);
  });
  it('needs a support address, and checks agents against groups', async () => {
    assert.equal(problems('data_dir: /tmp/x\n')[0]!.path, 'support_addresses');
    const p = problems(`${minimal}agents:\n  - { email: bob@acme.test, groups: [Nope] }\n`);
    assert.equal(p[0]!.path, 'agents[0].groups[0]');
    assert.equal(p[0]!.line, 4);
  });
  it('substitutes ${ENV} and names an unset variable with its key', async () => {
    const c = parseConfigText(`${minimal}secret: \${DG_SECRET}\n`, '/x/d.yaml', { DG_SECRET: 'abc' });
    assert.equal(c.secret, 'abc');
    const p = problems(`${minimal}secret: \${DG_MISSING}\n`);
    assert.equal(p[0]!.path, 'secret');
    assert.match(p[0]!.message, /DG_MISSING is not set/);
    const d = parseConfigText(`${minimal}secret: \${DG_MISSING:-}\n`, '/x/d.yaml', {});
    assert.equal(d.secret, undefined);
  });
  it('the bundled example config is valid', async () => {
    const r = parseConfigText(require_example(), join(ROOT, 'config/deskgate.example.yaml'), {});
    assert.ok(r.support_addresses.length > 0);
  });
});

function require_example(): string {
  return readExample();
}
import { readFileSync } from 'node:fs';
function readExample(): string {
  return readFileSync(join(ROOT, 'config/deskgate.example.yaml'), 'utf8');
}

describe('deskgate check-config', () => {
  it('exits 0 for a valid config and 78 with the key path for an invalid one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-cfg-'));
    try {
      writeFileSync(join(dir, 'ok.yaml'), minimal);
      writeFileSync(join(dir, 'bad.yaml'), `${minimal}smtp: { max_clients: -1 }\n`);
      writeFileSync(join(dir, 'broken.yaml'), 'support_addresses: [\n');
      const ok = await runCli(['check-config', '-c', join(dir, 'ok.yaml')]);
      assert.equal(ok.code, 0, ok.stderr);
      const bad = await runCli(['check-config', '-c', join(dir, 'bad.yaml')]);
      assert.equal(bad.code, 78);
      assert.match(bad.stderr, /bad\.yaml:3: smtp\.max_clients: /);
      const broken = await runCli(['check-config', '-c', join(dir, 'broken.yaml'), '--json']);
      assert.equal(broken.code, 78);
      const j = JSON.parse(broken.stdout) as { ok: boolean; problems: Array<{ message: string }> };
      assert.equal(j.ok, false);
      assert.match(j.problems[0]!.message, /YAML syntax/);
      const missing = await runCli(['check-config', '-c', join(dir, 'nope.yaml')]);
      assert.equal(missing.code, 78);
      assert.match(missing.stderr, /cannot read config/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config: OAuth2 logins and LMTP (R72, R73)', () => {
  const imap = (extra: string) => `${minimal}imap:\n  - { host: outlook.office365.com, user: support@acme.test${extra} }\n`;
  const oauth2 = 'oauth2: { token_url: "https://login.microsoftonline.com/t/oauth2/v2.0/token", client_id: app, client_secret: "${S}", scope: "https://outlook.office365.com/.default" }';
  const messages = (text: string) => problems(text, { S: 'secret' }).map((p) => `${p.path}: ${p.message}`);

  it('R72: an IMAP account takes pass or oauth2, exactly one', () => {
    const c = parseConfigText(imap(`, ${oauth2}`), '/x/d.yaml', { S: 'secret' });
    assert.equal(c.imap[0]!.oauth2!.client_secret, 'secret');
    assert.equal(c.imap[0]!.pass, undefined);
    assert.deepEqual(messages(imap(`, pass: x, ${oauth2}`)), ['imap[0]: an IMAP account needs either pass or oauth2, not both']);
    assert.deepEqual(messages(imap('')), ['imap[0]: an IMAP account needs either pass or oauth2, not neither']);
  });

  it('R72: token_url is https (http only on this host); a grant needs a refresh token or a client secret', () => {
    assert.deepEqual(messages(imap(', oauth2: { token_url: "http://login.example.test/token", client_id: app, client_secret: s }')), ['imap[0].oauth2.token_url: token_url must be https:// (http:// only on this host)']);
    assert.doesNotThrow(() => parseConfigText(imap(', oauth2: { token_url: "http://127.0.0.1:8080/token", client_id: app, refresh_token: r }'), '/x/d.yaml', {}));
    assert.deepEqual(messages(imap(', oauth2: { token_url: "https://login.example.test/token", client_id: app }')), ['imap[0].oauth2: oauth2 needs refresh_token (refresh-token grant) or client_secret (client-credentials grant)']);
    assert.deepEqual(messages(`${minimal}outbound: { smtp: { host: smtp.office365.com, auth: { user: support@acme.test } } }\n`), ['outbound.smtp.auth: outbound.smtp.auth needs either pass or oauth2, not neither']);
  });

  it('R73: lmtp.listen takes absolute socket paths with an octal mode, and host/port pairs', () => {
    const c = parseConfigText(`${minimal}lmtp: { listen: [{ path: /run/deskgate/lmtp.sock }, { host: 127.0.0.1, port: 2424 }] }\n`, '/x/d.yaml', {});
    assert.deepEqual(c.lmtp!.listen, [{ path: '/run/deskgate/lmtp.sock', mode: '0660' }, { host: '127.0.0.1', port: 2424 }]);
    assert.ok(messages(`${minimal}lmtp: { listen: [{ path: run/lmtp.sock }] }\n`).some((m) => /path must be absolute/.test(m)));
    assert.ok(messages(`${minimal}lmtp: { listen: [{ path: /run/lmtp.sock, mode: "rw-rw----" }] }\n`).some((m) => /mode must be octal/.test(m)));
    assert.ok(messages(`${minimal}lmtp: { listen: [] }\n`).some((m) => /lmtp\.listen needs a socket path/.test(m)));
    assert.ok(messages(`${minimal}lmtp: { listen: [{ host: 0.0.0.0, port: 2424 }] }\n`).some((m) => /must be on this host/.test(m)), 'LMTP clients are trusted: never a public address');
  });
});

describe('check-config warnings (R72)', () => {
  it('R72: a password login to Microsoft 365 or Gmail is flagged with what to use instead; oauth2 and other hosts are not', async () => {
    const { configWarnings } = await import('../../src/cli/config-warnings.js');
    const c = parseConfigText(`${minimal}imap:
  - { host: outlook.office365.com, user: support@acme.test, pass: x }
  - { host: imap.gmail.com, user: help@acme.test, oauth2: { token_url: "https://oauth2.googleapis.com/token", client_id: a, client_secret: b, refresh_token: c } }
  - { host: imap.acme.test, user: sales@acme.test, pass: y }
outbound: { smtp: { host: smtp.office365.com, auth: { user: support@acme.test, pass: z } } }
`, '/x/d.yaml', {});
    const w = configWarnings(c).filter((m) => /refuses/.test(m));
    assert.deepEqual(w, [
      'imap[0] (support@acme.test@outlook.office365.com) logs in with a password, which Microsoft 365 refuses: use oauth2 (admin guide, "OAuth2 mailboxes")',
      'outbound.smtp (smtp.office365.com) logs in with a password, which Microsoft 365 refuses for most tenants: use auth.oauth2 (admin guide, "OAuth2 mailboxes")',
    ]);
  });
});

describe('outbound.return_path and soft_bounce_limit (R67, R68)', () => {
  it('R68: soft_bounce_limit defaults to 5; return_path is off by default', () => {
    const c = parseConfigText(minimal, '/x/d.yaml', {});
    assert.equal(c.outbound.soft_bounce_limit, 5);
    assert.equal(c.outbound.return_path, undefined);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['a support address', 'support@acme.test', /must not be a support address/],
    ['an address with a +tag', 'bounces+x@acme.test', /takes no \+tag/],
    ['no address at all', 'bounces', /not a valid email address/],
  ];
  for (const [what, value, message] of refused) {
    it(`R67: a return path that is ${what} is refused`, () => {
      const p = problems(`${minimal}outbound: { return_path: "${value}" }\n`);
      assert.ok(p.some((x) => x.path === 'outbound.return_path' && message.test(x.message)), JSON.stringify(p));
    });
  }

  it('R67: an agent cannot be the return path; a soft_bounce_limit of 0 is refused', () => {
    assert.ok(problems(`${minimal}agents: [{ email: b@acme.test, role: agent }]\noutbound: { return_path: B@acme.test }\n`).some((x) => /must not be an agent/.test(x.message)));
    assert.ok(problems(`${minimal}outbound: { soft_bounce_limit: 0 }\n`).some((x) => x.path === 'outbound.soft_bounce_limit'));
  });

  it('R67: check-config warns without a return path, and for one in a domain deskgate has no support address in', async () => {
    const { configWarnings } = await import('../../src/cli/config-warnings.js');
    const w = (extra: string) => configWarnings(parseConfigText(`${minimal}${extra}`, '/x/d.yaml', {})).filter((m) => /return_path/.test(m));
    assert.equal(w('').length, 1);
    assert.deepEqual(w('outbound: { return_path: Bounces@acme.test }\n'), [], 'lower-cased, and in the support domain');
    assert.deepEqual(w('outbound: { return_path: bounces@mail.acme.test }\n'), ['outbound.return_path bounces@mail.acme.test is in mail.acme.test, no support address\'s domain: route bounces+*@mail.acme.test to deskgate there, or bounces never arrive (R67)']);
  });
});
