import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { cpSync, readFileSync, writeFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeEnv, type TestEnv } from '../helpers/env.js';
import { runCli, ROOT } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { runLoggingModules, packagesOf } from '../helpers/loaded-modules.js';

// `deskgate inject` runs from one CommonJS bundle with a V8 code cache (scripts/bundle.mjs,
// src/cli/code-cache.ts) so that an MTA's pipe starts fast (issue 15). These tests check that it
// is really used, that what it stores is what the modules store, and that a bad cache or bundle
// never costs a message.

const BUNDLE = join(ROOT, 'dist/bundle/inject.cjs');
const REPORT = { DESKGATE_BUNDLE_REPORT: '1' };

const injectJson = async (env: TestEnv, input: Buffer, extra: NodeJS.ProcessEnv = {}) => {
  const r = await runCli(['inject', '-c', env.configPath, '--json'], { input, env: { ...REPORT, ...extra } });
  assert.equal(r.code, 0, r.stderr);
  return { ...r, out: JSON.parse(r.stdout) as { status: string; ticket_id: number | null } };
};

describe('inject runs from its bundle with the code cache (issue 15)', () => {
  let env: TestEnv;
  before(() => { env = makeEnv(); });
  after(() => env.cleanup());

  it('R6: the build wrote an ASCII bundle and a cache that V8 accepts; the message becomes a ticket', async () => {
    assert.ok(isAscii(readFileSync(BUNDLE)), 'the bundle is ASCII (read as a one-byte string)');
    const r = await injectJson(env, mail({ messageId: uniqueId('cache'), subject: 'From the cache' }));
    assert.match(r.stderr, /inject bundle, code cache accepted/);
    assert.equal(r.out.status, 'done');
    assert.ok(r.out.ticket_id);
  });

  it('loads only main.js and the loader from dist, and only the SQLite addon from node_modules', async () => {
    const r = await runLoggingModules(env.dir, ['inject', '-c', env.configPath, '--json'], { input: mail({ messageId: uniqueId('modules'), subject: 'Modules' }) });
    assert.equal(r.code, 0, r.stderr);
    const dist = pathToFileURL(join(ROOT, 'dist')).href;
    assert.deepEqual(r.modules.filter((u) => u.startsWith(`${dist}/`)).sort(), [`${dist}/cli/code-cache.js`, `${dist}/cli/pipe-intake.js`, `${dist}/main.js`]);
    // liquidjs is in the bundle too (scripts/bundle.mjs rewrites templates.js's createRequire).
    assert.deepEqual([...packagesOf(r.modules)].sort(), ['better-sqlite3', 'bindings', 'file-uri-to-path']);
  });

  it('other commands run from the modules as built', async () => {
    const r = await runCli(['tickets', 'list', '-c', env.configPath, '--json'], { env: REPORT });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /inject bundle/);
  });
});

describe('the bundle stores what the modules store (issue 15)', () => {
  // Replies cut at quote headers in other languages (the bundle's regular expressions hold them
  // as \u escapes), HTML, a legacy charset (iconv) and the notifications' Liquid templates.
  const envs: TestEnv[] = [];
  const shown: Record<string, unknown[]> = {};
  const scrub = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x) =>
    /(_at|^at|^message_id|^in_reply_to|^references)$/.test(k) ? undefined : x));
  before(async () => {
    for (const [name, extra] of [['bundle', {}], ['modules', { DESKGATE_NO_BUNDLE: '1' }]] as const) {
      const env = makeEnv();
      envs.push(env);
      const first = `<first-${name}@customer.test>`;
      const mails = [
        mail({ messageId: first, subject: 'Le scanner', body: 'Bonjour, le scanner est en panne.\n' }),
        mail({ messageId: uniqueId('fr'), inReplyTo: first, subject: 'Re: Le scanner', body: 'Toujours en panne.\n\nLe lun. 23 nov. 2026 à 10:00, Support <support@acme.test> a écrit :\n> Avez-vous redémarré ?\n' }),
        mail({ messageId: uniqueId('zh'), inReplyTo: first, subject: 'Re: Le scanner', body: '还是坏的。\n\n在 2026年11月23日 10:00, Support 写道：\n> 请重启。\n' }),
        mail({ messageId: uniqueId('html'), subject: 'HTML', contentType: 'text/html; charset=utf-8', body: '<p>The <b>printer</b> <script>x()</script>is out of toner.</p>' }),
        Buffer.concat([mail({ messageId: uniqueId('latin1'), subject: 'Latin-1', contentType: 'text/plain; charset=iso-8859-1', body: '' }), Buffer.from('Caf\xe9 cr\xe8me, s\'il vous pla\xeet.\r\n', 'latin1')]),
      ];
      for (const m of mails) assert.equal((await injectJson(env, m, extra)).out.status, 'done');
      const tickets = JSON.parse((await runCli(['tickets', 'list', '-c', env.configPath, '--json'])).stdout) as Array<{ id: number }>;
      shown[name] = [];
      for (const t of tickets.sort((a, b) => a.id - b.id)) shown[name]!.push(scrub(JSON.parse((await runCli(['tickets', 'show', String(t.id), '-c', env.configPath, '--json'])).stdout)));
      shown[name]!.push(scrub(JSON.parse((await runCli(['outbox', 'list', '-c', env.configPath, '--json'])).stdout)));
    }
  });
  after(() => { for (const env of envs) env.cleanup(); });

  it('R9, R10, R53, R62, R64: the same tickets, threading, comments (reply cut, HTML, charset), audit and notifications', () => {
    assert.equal(shown.bundle!.length, 4, 'three tickets and the outbox');
    assert.deepEqual(shown.bundle, shown.modules);
    const scanner = shown.bundle![0] as { comments: Array<{ body: string }> };
    assert.deepEqual(scanner.comments.map((c) => c.body), ['Bonjour, le scanner est en panne.', 'Toujours en panne.', '还是坏的。']);
  });
});

describe('a cache or bundle that does not fit never costs a message (issue 15)', () => {
  let env: TestEnv;
  let copy: string;
  let bundle: string;
  // A copy of dist/ (node_modules linked beside it), so the real build is never touched.
  const inject = async (id: string) => {
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ messageId: uniqueId(id) }), env: REPORT, cli: join(copy, 'dist/main.js') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { status: string }).status, 'done');
    return r.stderr;
  };
  before(() => {
    env = makeEnv();
    copy = mkdtempSync(join(tmpdir(), 'dg-dist-'));
    cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    bundle = join(copy, 'dist/bundle/inject.cjs');
  });
  after(() => { env.cleanup(); rmSync(copy, { recursive: true, force: true }); });

  it('R6: the copy uses its cache, as the build does', async () => {
    assert.match(await inject('copy'), /code cache accepted/);
  });

  it('R6: a cache of another build is not used (the build line differs); the message is still stored', async () => {
    const saved = readFileSync(`${bundle}.cache`);
    writeFileSync(`${bundle}.cache`, Buffer.concat([Buffer.from('//deskgate-build:0000000000000000\n'), saved.subarray(saved.indexOf(10) + 1)]));
    assert.match(await inject('stale'), /code cache none/);
    // The same build line with bytes V8 cannot use: V8 rejects them and the bundle compiles as usual.
    writeFileSync(`${bundle}.cache`, Buffer.concat([saved.subarray(0, saved.indexOf(10) + 1), Buffer.alloc(4096, 7)]));
    assert.match(await inject('garbage'), /code cache rejected/);
    rmSync(`${bundle}.cache`);
    assert.match(await inject('no-cache'), /code cache none/);
  });

  it('R6: a bundle that does not load falls back to the modules', async () => {
    writeFileSync(bundle, 'not a bundle');
    assert.match(await inject('broken'), /the inject bundle did not load \(.*no build line\); using the built modules/);
  });
});
