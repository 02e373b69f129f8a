import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { makeEnv, waitFor, type TestEnv } from '../helpers/env.js';
import { runCli, spawnServe, waitExit, cliJson } from '../helpers/daemon.js';
import { runLoggingModules } from '../helpers/loaded-modules.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { COMMAND_MODULES } from '../../src/cli/commands.js';

// An MTA starts `deskgate inject` once per message, so what inject loads is its start time
// (issue 15). Guarded by which modules load, not by a timing, which is noise on a shared machine.

/**
 * Runs the built CLI and returns its result and every module URL it loaded, from the modules as
 * built (DESKGATE_NO_BUNDLE), whose names say what is loaded; the bundle holds what that module
 * graph reaches (scripts/bundle.mjs; inject-bundle.test.ts tests the bundle itself).
 */
const loadedBy = (env: TestEnv, args: string[], input?: Buffer) =>
  runLoggingModules(env.dir, args, { ...(input ? { input } : {}), env: { DESKGATE_NO_BUNDLE: '1' } });

/** Loaded modules of a package (a node_modules/<name>/ path, nested copies included). */
const ofPackage = (modules: string[], name: string) => modules.filter((u) => u.includes(`/node_modules/${name}/`));
const ofDist = (modules: string[], path: string) => modules.filter((u) => u.endsWith(`/dist/${path}`));

describe('deskgate inject loads only what the pipe needs (issue 15)', () => {
  let env: TestEnv;
  let run: Awaited<ReturnType<typeof loadedBy>>;
  before(async () => {
    env = makeEnv();
    run = await loadedBy(env, ['inject', '-c', env.configPath, '--json'], mail({ messageId: uniqueId('startup'), subject: 'Start fast' }));
  });
  after(() => env.cleanup());

  it('R6: the message is stored and processed into a ticket (the run the checks below look at)', async () => {
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { status: string; ticket_id: number | null };
    assert.equal(out.status, 'done');
    assert.ok(out.ticket_id);
    // The hook saw the modules inject needs, so an empty list below means "not loaded".
    assert.ok(ofPackage(run.modules, 'mailparser').length > 0 && ofPackage(run.modules, 'better-sqlite3').length > 0, 'the module log works');
  });

  it('no SMTP listener, IMAP client, mail sender, DKIM/SPF checks (trust.verify off) or pretty logger', async () => {
    for (const name of ['smtp-server', 'imapflow', 'mailauth', 'pino-pretty']) {
      assert.deepEqual(ofPackage(run.modules, name), [], `${name} loaded by inject`);
    }
    // mailparser and the header checks use nodemailer's address parser; the transport is the sender's.
    assert.deepEqual(ofPackage(run.modules, 'nodemailer').filter((u) => !u.includes('/addressparser/')), [], 'nodemailer transport loaded by inject');
  });

  it('no other command module, nor the daemon', async () => {
    const others = ['daemon.js', 'cli/serve.js', 'cli/explain.js', 'cli/tickets.js', 'cli/ops.js', 'cli/config-schema.js', 'config/json-schema.js', 'ingest/smtp-listener.js', 'ingest/imap-poller.js', 'ops/health-server.js'];
    assert.deepEqual(others.flatMap((p) => ofDist(run.modules, p)), []);
  });

  it('no metrics library (prom-client): metrics are only served by serve', async () => {
    assert.deepEqual(ofPackage(run.modules, 'prom-client'), []);
  });
});

describe('with deskgate serve running, inject only stores its message (issue 15)', () => {
  let env: TestEnv;
  let serve: Awaited<ReturnType<typeof spawnServe>>;
  let run: Awaited<ReturnType<typeof loadedBy>>;
  const id = uniqueId('queued');
  before(async () => {
    env = makeEnv((c) => { c.log = { level: 'info' }; }); // spawnServe reads serve:ready
    serve = await spawnServe(env.configPath);
    await waitFor(async () => (await cliJson(['stats', '-c', env.configPath])).nodes.length > 0, 'the daemon\'s heartbeat');
    run = await loadedBy(env, ['inject', '-c', env.configPath, '--json'], mail({ messageId: id, subject: 'Queued for the daemon' }));
  });
  after(async () => {
    serve.child.kill('SIGTERM');
    await waitExit(serve.child);
    env.cleanup();
  });

  it('R6: exit 0 once stored; the running daemon makes the ticket', async () => {
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { status: string; ticket_id: number | null; intake_id: number };
    assert.notEqual(out.status, 'failed');
    const ticket = await waitFor(async () => (await cliJson<Array<{ id: number; subject: string }>>(['tickets', 'list', '-c', env.configPath])).find((t) => t.subject === 'Queued for the daemon'), 'the daemon to process it');
    assert.ok(ticket.id > 0);
  });

  it('loads no parser, rules, triggers, templates, sender, trust checks or metrics', () => {
    for (const name of ['mailparser', 'liquidjs', 'sanitize-html', 'html-to-text', 'mailauth', 'prom-client', 'smtp-server', 'imapflow', 'email-reply-parser']) {
      assert.deepEqual(ofPackage(run.modules, name), [], `${name} loaded by inject while a daemon runs`);
    }
    // triggers/templates.js itself loads with the config's validation; liquidjs (above) only on the first template.
    const pipeline = ['compose.js', 'pipeline/process-intake.js', 'parse/parse-message.js', 'outbound/sender.js'];
    assert.deepEqual(pipeline.flatMap((p) => ofDist(run.modules, p)), []);
    assert.ok(ofPackage(run.modules, 'better-sqlite3').length > 0, 'the module log works');
  });
});

describe('commands are registered lazily, yet all are there', () => {
  it('the command table names exactly the commands its modules register', async () => {
    for (const m of COMMAND_MODULES) {
      const program = new Command('deskgate');
      (await m.load())(program);
      assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...m.names].sort());
    }
  });

  it('deskgate --help lists every command', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, r.stderr);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]);
    const expected = COMMAND_MODULES.flatMap((m) => m.names);
    for (const name of expected) assert.ok(listed.includes(name), `${name} missing from --help:\n${r.stdout}`);
  });

  it('a command still gets its options and exit codes: unknown option of tickets is 64, of inject 75', async () => {
    assert.equal((await runCli(['tickets', 'list', '--no-such-option'])).code, 64);
    assert.equal((await runCli(['inject', '--no-such-option'])).code, 75);
  });
});
