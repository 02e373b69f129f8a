import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validate } from 'dockerfile-utils';
import { makeEnv, baseConfig, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, spawnServe, waitExit, cliJson, runCli, ROOT } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail, SmtpClient } from '../helpers/smtp.js';

describe('metrics and health', () => {
  it('/metrics exposes the counters after a few messages; /healthz is 200 while serving', async () => {
    const env = makeEnv((c) => { c.metrics = { listen: '127.0.0.1:0' }; });
    const d = await startTestDaemon(env);
    try {
      for (let i = 0; i < 3; i++) assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('met') })), /^250/);
      assert.match(await sendMail(d.port, 'nobody@acme.test', mail()), /^550/);
      await waitFor(async () => (await d.app.intake.pendingCount()) === 0 && (await d.app.views.list()).length === 3, 'processed');
      const text = await (await fetch(`http://127.0.0.1:${d.metricsPort}/metrics`)).text();
      const value = (re: RegExp) => Number(re.exec(text)?.[1]);
      assert.equal(value(/^deskgate_messages_accepted_total\{via="smtp",duplicate="false"\} (\d+)/m), 3);
      assert.equal(value(/^deskgate_messages_rejected_total\{reason="unknown_recipient"\} (\d+)/m), 1);
      assert.equal(value(/^deskgate_tickets_created_total (\d+)/m), 3);
      assert.equal(value(/^deskgate_comments_total\{visibility="public"\} (\d+)/m), 3);
      assert.equal(value(/^deskgate_intake_latency_seconds_count (\d+)/m), 3);
      assert.equal(value(/^deskgate_queue_depth\{queue="intake"\} (\d+)/m), 0);
      assert.match(text, /^deskgate_queue_depth\{queue="outbox"\} \d+/m);
      assert.match(text, /^deskgate_smtp_sessions \d+/m);
      assert.match(text, /^deskgate_process_cpu_seconds_total/m);
      const h = await fetch(`http://127.0.0.1:${d.metricsPort}/healthz`);
      assert.equal(h.status, 200);
      // R71: /healthz names the node and what it leads (nothing before the first automation tick).
      assert.deepEqual(await h.json(), { status: 'ok', smtp: true, database: true, queue: true, node: { id: d.app.ctx.nodeId, leads: [] } });
    } finally {
      await d.stop();
      env.cleanup();
    }
  });
});

describe('SIGHUP reload', () => {
  let env: TestEnv;
  after(() => env?.cleanup());

  function writeConfig(tag: string | null, broken = false): void {
    const c = baseConfig();
    c.log = { level: 'info' };
    if (tag) c.triggers = { defaults: true, items: [{ id: 'tag-new', name: 'Tag new tickets', conditions: { all: [{ field: 'is', value: 'created' }] }, actions: [{ add_tags: [tag] }] }] };
    writeFileSync(env.configPath, broken ? `${stringify(c)}\nsmtp: [unclosed\n` : stringify(c));
  }

  it('applies a changed trigger without dropping sessions; an invalid config is refused and the old one stays', async () => {
    env = makeEnv();
    writeConfig('before');
    const s = await spawnServe(env.configPath);
    // The CLI reads through its own copy: the served file is made invalid on purpose below.
    const readConfig = join(env.dir, 'read.yaml');
    writeFileSync(readConfig, readFileSync(env.configPath));
    const tagsOf = async (subject: string) => {
      const t = await waitFor(async () => (await cliJson<Array<{ subject: string; tags: string[] }>>(['tickets', 'list', '-c', readConfig])).find((x) => x.subject === subject), subject);
      return t.tags;
    };
    try {
      const c = await SmtpClient.connect(s.port);
      await c.cmd('EHLO long.test');
      assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ subject: 'One' })), /^250/);
      assert.deepEqual(await tagsOf('One'), ['before']);
      writeConfig('after');
      s.child.kill('SIGHUP');
      await waitFor(() => s.logs().includes('"event":"serve:reloaded"'), 'reload');
      assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ subject: 'Two' })), /^250/, 'the session opened before the reload still works');
      assert.deepEqual(await tagsOf('Two'), ['after']);
      writeConfig('broken', true);
      s.child.kill('SIGHUP');
      await waitFor(() => s.logs().includes('"event":"serve:reload_refused"'), 'refusal');
      assert.match(s.logs(), /new config refused; the running config stays/);
      assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ subject: 'Three' })), /^250/);
      assert.deepEqual(await tagsOf('Three'), ['after']);
      await c.quit();
    } finally {
      s.child.kill('SIGTERM');
      assert.equal(await waitExit(s.child), 0);
    }
  });
});

describe('what a reload applies (compose.reload)', () => {
  it('applies limits, agents and CC settings at once; reply_line and listen addresses wait for a restart', async () => {
    const { composeApp } = await import('../../src/compose.js');
    const { parseConfigText } = await import('../../src/config/index.js');
    const { silentLogger } = await import('../../src/shared/logger.js');
    const env = makeEnv();
    const app = await composeApp(env.config, { logger: silentLogger(), parseWorkers: 0 });
    try {
      const next = baseConfig();
      next.limits = { per_sender_per_hour: 7 };
      next.ccs = { enabled: false };
      (next.agents as Array<Record<string, unknown>>).push({ email: 'new@acme.test', name: 'New', role: 'agent' });
      next.email = { reply_line: '--- reply above ---' };
      (next.smtp as Record<string, unknown>).listen = [{ host: '127.0.0.1', port: 2599 }];
      const restart = await app.reload(parseConfigText(stringify(next), env.configPath));
      assert.deepEqual(restart.sort(), ['email.reply_line', 'smtp']);
      assert.equal(app.ctx.limits.perSenderPerHour, 7);
      assert.equal(app.ctx.settings.ccs.enabled, false);
      assert.equal(app.ctx.directory.agents.get('new@acme.test')?.role, 'agent');
      assert.equal(app.config.limits.per_sender_per_hour, 7);
    } finally {
      await app.close();
      env.cleanup();
    }
  });
});

describe('backup and restore', () => {
  it('a backup of a running instance restores to an identical ticket set', async () => {
    const env = makeEnv();
    const d = await startTestDaemon(env);
    const file = join(env.dir, 'backup.dgbak');
    const restoreDir = mkdtempSync(join(tmpdir(), 'dg-restore-'));
    try {
      const att = ['Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'see file', '--b',
        'Content-Type: application/octet-stream; name="a.bin"', 'Content-Disposition: attachment; filename="a.bin"', 'Content-Transfer-Encoding: base64', '',
        Buffer.from('binary attachment').toString('base64'), '--b--', ''].join('\r\n');
      await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('bk'), rawBody: att }));
      await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('bk'), body: 'z'.repeat(76).concat('\n').repeat(4000) })); // spooled to a file
      for (let i = 0; i < 3; i++) await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('bk') }));
      await waitFor(async () => (await d.app.views.list()).length === 5 && (await d.app.intake.pendingCount()) === 0, 'five tickets');
      const r = await runCli(['backup', file, '-c', env.configPath, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { files: number }).files, 2, 'the attachment and the spooled raw file');
      const cfg = baseConfig();
      cfg.data_dir = restoreDir;
      delete cfg.secret;
      const restoreConfig = join(restoreDir, 'c.yaml');
      writeFileSync(restoreConfig, stringify(cfg));
      const rr = await runCli(['restore', file, '-c', restoreConfig, '--json']);
      assert.equal(rr.code, 0, rr.stderr);
      const original = await Promise.all((await d.app.views.list()).map((t) => d.app.views.show(t.id)));
      const restored = await cliJson<unknown[]>(['tickets', 'list', '-c', restoreConfig]);
      assert.equal(restored.length, 5);
      for (const t of original) assert.deepEqual(await cliJson(['tickets', 'show', String(t!.id), '-c', restoreConfig]), t);
      const sha = original.flatMap((t) => t!.comments!.flatMap((c) => c.attachments.map((a) => a.sha256)))[0]!;
      assert.equal(readFileSync(join(restoreDir, 'attachments', sha.slice(0, 2), sha), 'utf8'), 'binary attachment');
      const again = await runCli(['restore', file, '-c', restoreConfig]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already has 5 tickets/);
      const stats = await cliJson<{ tickets: Record<string, number>; intake_queue: number }>(['stats', '-c', restoreConfig]);
      assert.deepEqual([stats.tickets.new, stats.intake_queue], [5, 0]);
    } finally {
      await d.stop();
      env.cleanup();
      rmSync(restoreDir, { recursive: true, force: true });
    }
  });
});

describe('deployment files', () => {
  it('systemd/deskgate.service passes systemd-analyze verify (where available) and is hardened', (t) => {
    const unit = readFileSync(join(ROOT, 'systemd/deskgate.service'), 'utf8');
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/deskgate', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'Type=notify', 'Restart=on-failure', 'User=deskgate']) {
      assert.ok(unit.includes(line), line);
    }
    if (!existsSync('/usr/bin/systemd-analyze')) return t.skip('systemd-analyze is not installed here');
    const r = spawnSync('systemd-analyze', ['verify', join(ROOT, 'systemd/deskgate.service')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', r.stderr);
  });
  it('the Dockerfile has no diagnostics from dockerfile-utils, runs as non-root with a health check', async () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.deepEqual(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
    assert.match(text, /^USER deskgate$/m);
    assert.match(text, /^HEALTHCHECK /m);
    assert.equal((text.match(/^FROM /gm) ?? []).length, 2, 'multi-stage');
  });
  void execFileSync;
});
