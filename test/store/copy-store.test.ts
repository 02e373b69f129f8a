import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, SUPPORT, type TestEnv } from '../helpers/env.js';
import { runCli } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { createTestDatabase, stopTestCluster } from '../helpers/postgres.js';
import { composeApp, type App } from '../../src/compose.js';
import { silentLogger } from '../../src/shared/logger.js';
import { updateTicket } from '../../src/pipeline/index.js';
import { databaseFile } from '../../src/store/index.js';
import { migrations } from '../../src/store/migrations/index.js';
import { postgresMigrations } from '../../src/store/migrations/postgres.js';
import type { CopyReport, MigrateReport } from '../../src/store/copy-store.js';
import { freePort as closedPort } from '../helpers/net.js';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

/** A config without `secret:`: the reply-token key is data_dir/secret (SQLite) or meta (PostgreSQL). */
function envFor(store?: { backend: 'postgres'; url: string }): TestEnv {
  return makeEnv((c) => {
    delete c.secret;
    if (store) c.store = store;
  });
}

const open = (env: TestEnv): Promise<App> => composeApp(env.config, { logger: silentLogger(), parseWorkers: 0 });

async function deliver(app: App, raw: Buffer, envelope: { from?: string | null; to?: string[] } = {}): Promise<number> {
  const r = await app.accept(raw, { via: 'pipe', from: envelope.from === undefined ? 'carol@customer.test' : envelope.from, to: envelope.to ?? [SUPPORT] });
  assert.ok(!('tooLarge' in r), 'accepted');
  await app.processor.drain();
  return r.intakeId;
}

function withAttachment(content: Buffer): Buffer {
  const b = 'b-att';
  return mail({
    subject: 'Screenshot attached',
    messageId: uniqueId('att'),
    headers: { 'Content-Type': `multipart/mixed; boundary="${b}"` },
    rawBody: [
      `--${b}`, 'Content-Type: text/plain; charset=utf-8', '', 'See the picture.', '',
      `--${b}`, 'Content-Type: application/octet-stream; name="fire.bin"', 'Content-Disposition: attachment; filename="fire.bin"',
      'Content-Transfer-Encoding: base64', '', content.toString('base64').replace(/.{76}/g, '$&\r\n'), `--${b}--`, '',
    ].join('\r\n'),
  });
}

/** Everything an admin can see of a deployment, to compare before and after the move. */
async function snapshot(app: App) {
  const tickets = [];
  for (const id of await app.sql.column<number>('SELECT id FROM tickets ORDER BY id')) tickets.push(await app.views.show(id));
  const raw = new Map<number, Buffer>();
  for (const id of await app.sql.column<number>('SELECT id FROM intake ORDER BY id')) {
    const row = (await app.intake.get(id))!;
    const bytes = (await app.intake.rawBytes(id)) ?? (row.raw_path ? await app.raw.read(row.raw_path).catch(() => undefined) : undefined);
    if (bytes) raw.set(id, bytes);
  }
  return {
    tickets,
    outbox: await app.outbox.list(),
    suspended: await app.intake.list('suspended'),
    failed: await app.intake.list('failed'),
    raw,
  };
}


after(async () => { await stopTestCluster(); });

describe('deskgate copy-store: a SQLite deployment into PostgreSQL (issue 14)', () => {
  let db: TestDb;
  let source: TestEnv;
  let target: TestEnv;
  let before_: Awaited<ReturnType<typeof snapshot>>;
  let counts: Record<string, number>;
  let attachmentSha: string;
  let attachmentBytes: Buffer;
  let missingId: number;
  let firstTicket: number;
  let oldSecret: string;

  before(async () => {
    db = await createTestDatabase();
    source = envFor();
    target = envFor({ backend: 'postgres', url: db.url });
    const app = await open(source);
    try {
      const first = uniqueId('first');
      await deliver(app, mail({ messageId: first, subject: 'Printer on fire', cc: 'Dan <dan@customer.test>' }));
      firstTicket = (await app.sql.value<number>('SELECT max(id) FROM tickets'))!;
      // R10: a reply by Message-ID; an agent's answer; R11: a reply by token only.
      await deliver(app, mail({ messageId: uniqueId('re'), inReplyTo: first, subject: 'Re: Printer on fire', body: 'Still burning.\n' }));
      await deliver(app, mail({ from: 'Alice <alice@acme.test>', messageId: uniqueId('agent'), inReplyTo: first, subject: 'Re: Printer on fire', body: 'On my way.\n' }), { from: 'alice@acme.test' });
      const notice = (await app.outbox.list()).find((m) => m.ticket_id === firstTicket && m.reply_to)!;
      assert.match(notice.reply_to!, /^support\+\d+-[0-9a-f]{16}@acme\.test$/);
      await deliver(app, mail({ to: notice.reply_to!, messageId: uniqueId('tok'), subject: 'no headers', body: 'By token.\n' }), { to: [notice.reply_to!] });
      // An agent's update from the CLI's code path: CC, follower, assignee, tag, a private note.
      await updateTicket(app.ctx, firstTicket, {
        addCcs: ['dan@customer.test'], addFollowers: ['bob@acme.test'], assignee: 'bob@acme.test', tags: ['hot'],
        comment: { body: 'Checked the wiring.', private: true }, author: 'bob@acme.test',
      }, { groups: source.config.groups.map((g) => g.name), ccs: source.config.ccs });
      assert.ok(await app.meta.claimRun('automations', new Date().toISOString(), new Date().toISOString()), 'a meta row');
      // Over 256 KiB: the raw bytes are a file under data_dir/raw (two: one whose file goes missing).
      const big = `${'x'.repeat(75)}\n`.repeat(4000);
      await deliver(app, mail({ messageId: uniqueId('big'), subject: 'Big log', body: big }));
      missingId = await deliver(app, mail({ messageId: uniqueId('big2'), subject: 'Big log 2', body: big }));
      attachmentBytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
      await deliver(app, withAttachment(attachmentBytes));
      await deliver(app, mail({ from: 'Acme Support <support@acme.test>', messageId: uniqueId('loop'), subject: 'From ourselves' }), { from: 'support@acme.test' });
      await deliver(app, Buffer.from(`To: support@acme.test\r\nSubject: anonymous\r\nMessage-ID: ${uniqueId('anon')}\r\n\r\nhello\r\n`), { from: null });
      before_ = await snapshot(app);
      counts = {};
      for (const t of ['users', 'tickets', 'intake', 'intake_raw', 'comments', 'ticket_ccs', 'ticket_followers', 'attachments', 'message_ids', 'audit', 'outbox', 'imap_state', 'rate_counters', 'meta']) {
        counts[t] = (await app.sql.value<number>(`SELECT count(*) FROM ${t}`))!;
      }
      attachmentSha = (await app.sql.value<string>('SELECT sha256 FROM attachments'))!;
      const missingPath = (await app.intake.get(missingId))!.raw_path!;
      rmSync(join(source.config.data_dir, missingPath));
    } finally {
      await app.close();
    }
    oldSecret = readFileSync(join(source.config.data_dir, 'secret'), 'utf8').trim();
  });
  after(async () => {
    source?.cleanup();
    target?.cleanup();
    await db?.drop();
  });

  it('the SQLite deployment has what the copy must carry', () => {
    assert.equal(before_.tickets.length, 4, 'first (with its replies), two big ones, the attachment');
    assert.equal(before_.tickets.find((t) => t!.id === firstTicket)!.comments!.length, 5, 'new, R10 reply, agent reply, private note, R11 reply on one ticket');
    assert.ok(before_.outbox.length >= 3, 'outbox rows from the default triggers');
    assert.deepEqual(before_.suspended.map((r) => r.error_code), ['from_support_address']);
    assert.deepEqual(before_.failed.map((r) => r.error_code), ['RULES_NO_SENDER']);
    for (const t of ['attachments', 'ticket_ccs', 'ticket_followers', 'meta', 'rate_counters', 'intake_raw', 'audit']) assert.ok(counts[t]! >= 1, `${t}: ${JSON.stringify(counts)}`);
    assert.ok(counts.message_ids! >= 5);
  });

  it('copies every row, raw file and attachment; a missing raw file is reported, not fatal', async () => {
    const r = await runCli(['copy-store', '--from', source.configPath, '-c', target.configPath, '--json'], { timeoutMs: 120_000, env: { DESKGATE_LOG_LEVEL: 'warn' } });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as CopyReport;
    assert.deepEqual(out.tables, counts);
    assert.equal(out.raw_blobs, 1, 'the big message whose file is still there');
    assert.deepEqual(out.missing_raw, { count: 1, intake_ids: [missingId] });
    assert.equal(out.attachments, 1);
    assert.deepEqual(out.missing_attachments, { count: 0, sha256: [] });
    assert.equal(out.secret, 'copied');
    assert.equal(out.old_tokens_verify, true);
    assert.ok(out.to.startsWith('postgres://') && typeof out.seconds === 'number');
    assert.match(r.stderr, new RegExp(`raw file missing.*"intake_id":${missingId}|"intake_id":${missingId}.*raw file missing`));
  });

  it('PostgreSQL shows the same tickets, outbox, suspended and failed mail and raw bytes', async () => {
    const app = await open(target);
    try {
      const after_ = await snapshot(app);
      assert.deepEqual(after_.tickets, before_.tickets);
      assert.deepEqual(after_.outbox, before_.outbox);
      assert.deepEqual(after_.suspended, before_.suspended);
      assert.deepEqual(after_.failed, before_.failed);
      const expected = new Map(before_.raw);
      expected.delete(missingId);
      assert.deepEqual([...after_.raw.keys()], [...expected.keys()]);
      for (const [id, bytes] of expected) assert.ok(after_.raw.get(id)!.equals(bytes), `raw bytes of intake ${id}`);
      const big = (await app.sql.column<string>("SELECT raw_path FROM intake WHERE raw_path IS NOT NULL AND id <> ?", [missingId]));
      assert.equal(big.length, 1);
      assert.match(big[0]!, /^blob:raw\/\d{4}-\d\d-\d\d\/.+\.eml$/);
      assert.ok((await app.store.blobs!.read(`attachment/${attachmentSha}`)).equals(attachmentBytes));
      assert.equal(await app.meta.get('secret'), oldSecret, 'the key file became meta secret');
    } finally {
      await app.close();
    }
  });

  it('R10/R11: replies to notifications sent before the move thread to the same ticket; new rows get new ids', async () => {
    const app = await open(target);
    try {
      const old = before_.outbox.filter((m) => m.ticket_id === firstTicket);
      const maxTicket = Math.max(...before_.tickets.map((t) => t!.id));
      const comments = before_.tickets.find((t) => t!.id === firstTicket)!.comments!.length;
      await deliver(app, mail({ messageId: uniqueId('after'), inReplyTo: old[0]!.message_id, subject: 'Re: old notice', body: 'Reply after the move.\n' }));
      const replyTo = old.find((m) => m.reply_to)!.reply_to!;
      await deliver(app, mail({ to: replyTo, messageId: uniqueId('after-tok'), subject: 'bare', body: 'Token after the move.\n' }), { to: [replyTo] });
      const t = (await app.views.show(firstTicket))!;
      assert.equal(t.comments!.length, comments + 2);
      assert.deepEqual(t.comments!.slice(-2).map((c) => c.body), ['Reply after the move.', 'Token after the move.']);
      await deliver(app, mail({ messageId: uniqueId('new'), subject: 'A new one' }));
      const newest = (await app.views.show((await app.sql.value<number>('SELECT max(id) FROM tickets'))!))!;
      assert.equal(newest.subject, 'A new one');
      assert.equal(newest.id, maxTicket + 1, 'the identity sequence is past the copied ids');
    } finally {
      await app.close();
    }
  });

  it('a second copy-store into the now filled database is refused', async () => {
    const r = await runCli(['copy-store', '--from', source.configPath, '-c', target.configPath, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /STORE_COPY_REFUSED: .*already holds tickets or intake/);
    assert.equal(r.stdout, '');
  });
});

describe('deskgate copy-store refusals', () => {
  it('a target that is not PostgreSQL, and a source whose schema is older than this version', async () => {
    const source = envFor();
    const other = envFor();
    try {
      const app = await open(source);
      await deliver(app, mail({ subject: 'one' }));
      await app.close();
      const notPg = await runCli(['copy-store', '--from', source.configPath, '-c', other.configPath]);
      assert.equal(notPg.code, 1);
      assert.match(notPg.stderr, /must have store\.backend: postgres/);
      // An old deployment: pretend the newest migration has not run.
      const { default: Database } = await import('better-sqlite3');
      const sqlite = new Database(databaseFile(source.config.data_dir));
      sqlite.prepare('DELETE FROM schema_migrations WHERE version = ?').run(migrations[migrations.length - 1]!.version);
      sqlite.close();
      const pg = envFor({ backend: 'postgres', url: 'postgres://nobody@127.0.0.1:1/none' });
      try {
        const old = await runCli(['copy-store', '--from', source.configPath, '-c', pg.configPath]);
        assert.equal(old.code, 1);
        assert.match(old.stderr, /not at the current schema: run deskgate migrate -c /);
      } finally {
        pg.cleanup();
      }
    } finally {
      source.cleanup();
      other.cleanup();
    }
  });
});

describe('deskgate migrate', () => {
  it('a fresh SQLite data_dir: applies every migration once, then none', async () => {
    const env = envFor();
    try {
      const r = await runCli(['migrate', '-c', env.configPath, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as MigrateReport;
      assert.deepEqual(out, { backend: 'sqlite', location: databaseFile(env.config.data_dir), applied: migrations.map((m) => m.version), current: migrations[migrations.length - 1]!.version });
      const again = JSON.parse((await runCli(['migrate', '-c', env.configPath, '--json'])).stdout) as MigrateReport;
      assert.deepEqual(again.applied, []);
      assert.equal(again.current, out.current);
      const human = await runCli(['migrate', '-c', env.configPath]);
      assert.match(human.stdout, /^sqlite .*deskgate\.sqlite: already current; schema version \d+\n$/);
    } finally {
      env.cleanup();
    }
  });

  it('a fresh PostgreSQL database: applies the PostgreSQL migrations; the URL is shown without its password', async () => {
    const db = await createTestDatabase();
    const env = envFor({ backend: 'postgres', url: db.url });
    try {
      const r = await runCli(['migrate', '-c', env.configPath, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as MigrateReport;
      assert.equal(out.backend, 'postgres');
      assert.ok(out.location.startsWith('postgres://') && out.location.includes(db.name));
      assert.deepEqual(out.applied, postgresMigrations.map((m) => m.version));
      assert.equal(out.current, postgresMigrations[postgresMigrations.length - 1]!.version);
      const again = JSON.parse((await runCli(['migrate', '-c', env.configPath, '--json'])).stdout) as MigrateReport;
      assert.deepEqual(again.applied, []);
    } finally {
      env.cleanup();
      await db.drop();
    }
  });

  it('an unreachable PostgreSQL exits 75 with the store error, never the password', async () => {
    const port = await closedPort();
    const env = envFor({ backend: 'postgres', url: `postgres://deskgate:hunter2secret@127.0.0.1:${port}/deskgate` });
    try {
      const r = await runCli(['migrate', '-c', env.configPath, '--json']);
      assert.equal(r.code, 75, r.stderr);
      assert.match(r.stderr, /STORE_UNREACHABLE: cannot reach PostgreSQL at 127\.0\.0\.1:\d+/);
      assert.doesNotMatch(r.stderr + r.stdout, /hunter2secret/);
      assert.equal(r.stdout, '');
    } finally {
      env.cleanup();
    }
  });
});
