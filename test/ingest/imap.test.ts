import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, spawnServe, waitExit, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { Dovecot, IMAP_USER, IMAP_PASS } from '../helpers/dovecot.js';
import { accountKey } from '../../src/ingest/index.js';
import { ImapPoller } from '../../src/ingest/imap-poller.js';
import { createImapStateRepo } from '../../src/store/index.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { Daemon } from '../../src/daemon.js';

const account = (port: number, over: Record<string, unknown> = {}) => ({
  host: '127.0.0.1', port, secure: false, user: IMAP_USER, pass: IMAP_PASS, mailbox: 'INBOX', processed_mailbox: 'Processed', poll_interval: '1s', idle: true, ...over,
});

describe('IMAP intake against a real Dovecot (R6, R7, R10)', () => {
  const dovecot = new Dovecot();
  let env: TestEnv;
  let d: Daemon & { port: number };

  before(async () => {
    await dovecot.start();
    env = makeEnv((c) => { c.imap = [account(dovecot.port)]; });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d?.stop();
    await dovecot.destroy();
    env?.cleanup();
  });

  const commentsWith = async (messageId: string) => (await d.app.sql.column('SELECT ticket_id FROM comments WHERE message_id = ?', [messageId])) as number[];
  const waitComment = (messageId: string) => waitFor(async () => (await commentsWith(messageId))[0], `comment ${messageId}`, 15_000);

  it('R6: an APPENDed message becomes a ticket and is then moved to the processed folder', async () => {
    const id = uniqueId('imap');
    await dovecot.append('INBOX', mail({ messageId: id, subject: 'Via IMAP' }));
    const ticketId = await waitComment(id);
    const t = (await d.app.views.show(ticketId))!;
    assert.equal(t.via, 'imap');
    assert.equal(t.subject, 'Via IMAP');
    assert.equal(t.recipient, 'support@acme.test');
    await waitFor(async () => (await dovecot.messageIds('Processed')).includes(id), 'moved to Processed');
    assert.ok(!(await dovecot.messageIds('INBOX')).includes(id));
  });

  it('R10: a reply APPENDed later threads into the ticket', async () => {
    const first = uniqueId('imap-first');
    await dovecot.append('INBOX', mail({ messageId: first }));
    const t1 = await waitComment(first);
    const reply = uniqueId('imap-reply');
    await dovecot.append('INBOX', mail({ messageId: reply, inReplyTo: first, subject: 'Re: x', body: 'More details.' }));
    assert.equal(await waitComment(reply), t1);
  });

  it('R7: the same message APPENDed twice, and in a second folder, is one comment', async () => {
    const id = uniqueId('imap-dup');
    const raw = mail({ messageId: id });
    await dovecot.append('INBOX', raw, raw);
    await waitComment(id);
    await waitFor(async () => (await dovecot.messageIds('Processed')).filter((m) => m === id).length === 2, 'both copies moved');
    assert.equal((await commentsWith(id)).length, 1);
    // The same mail also reaching deskgate over SMTP is still one comment.
    assert.match(await sendMail(d.port, 'support@acme.test', raw), /^250 .*duplicate/);
    assert.equal((await commentsWith(id)).length, 1);
  });

  it('reconnects after Dovecot is stopped mid-session and imports what arrived meanwhile, nothing twice', async () => {
    const before = uniqueId('imap-before');
    await dovecot.append('INBOX', mail({ messageId: before }));
    await waitComment(before);
    await dovecot.stop();
    const during = uniqueId('imap-during');
    dovecot.deliverToMaildir(mail({ messageId: during, subject: 'Arrived while IMAP was down' }).toString(), 'during');
    await new Promise((r) => setTimeout(r, 500));
    await dovecot.start();
    const ticketId = await waitFor(async () => (await commentsWith(during))[0], 'import after reconnect', 30_000);
    assert.ok(ticketId > 0);
    assert.equal((await commentsWith(before)).length, 1);
    assert.equal((await commentsWith(during)).length, 1);
  });

  it('deskgate imap status shows the account connected with its counts', async () => {
    type Row = { account: string; state: string; imported: number; duplicates: number; last_poll_at: string };
    // The counts are written after the poll round; the tickets (a processing thread) may come first.
    const rows = await waitFor(async () => { const r = await cliJson<Row[]>(['imap', 'status', '-c', env.configPath]); return r[0] && r[0].imported >= 5 && r[0].duplicates >= 1 ? r : undefined; }, 'the poll round\'s counts', 10_000);
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.state, /^(idle|polling|connected)$/);
    assert.ok(rows[0]!.imported >= 5);
    assert.ok(rows[0]!.duplicates >= 1);
    assert.ok(rows[0]!.last_poll_at);
  });
});

describe('IMAP crash and UIDVALIDITY safety (R6, R7)', () => {
  const dovecot = new Dovecot();
  let env: TestEnv;
  let d: Daemon & { port: number };

  before(async () => {
    await dovecot.start();
    env = makeEnv(); // no imap: in the config: pollers are driven by hand here
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d?.stop();
    await dovecot.destroy();
    env?.cleanup();
  });

  function poller(over: Record<string, unknown>, afterAccept?: (uid: number) => Promise<void>) {
    const a = { ...account(dovecot.port, over), poll_interval: 200 } as never;
    return new ImapPoller(a, {
      accept: d.app.accept, recipientOf: d.app.supportAddressOf, defaultRecipient: 'support@acme.test',
      state: createImapStateRepo(d.app.sql), logger: silentLogger(), clock: d.app.ctx.clock, ...(afterAccept ? { afterAccept } : {}),
    });
  }
  const comments = async (id: string) => ((await d.app.sql.value('SELECT count(*) FROM comments WHERE message_id = ?', [id])) as number);

  it('R6/R7: killed between storing and moving, the message is imported exactly once after restart', async () => {
    const id = uniqueId('imap-crash');
    await dovecot.append('Crash', mail({ messageId: id }));
    let crashed = false;
    const p1 = poller({ mailbox: 'Crash', processed_mailbox: 'CrashDone' }, async () => {
      crashed = true;
      // The process dies here: stored durably, not yet moved on the server.
      await p1.stop();
      throw new Error('simulated crash');
    });
    p1.start();
    await waitFor(() => crashed, 'the crash point');
    assert.ok((await dovecot.messageIds('Crash')).includes(id), 'still in the mailbox after the crash');
    await waitFor(async () => (await comments(id)) === 1, 'processed once');
    const p2 = poller({ mailbox: 'Crash', processed_mailbox: 'CrashDone' });
    p2.start();
    try {
      await waitFor(async () => (await dovecot.messageIds('CrashDone')).includes(id), 'moved after restart');
      assert.equal((await comments(id)), 1);
      assert.equal((await d.app.sql.value('SELECT count(*) FROM intake WHERE message_id = ?', [id])), 1);
    } finally {
      await p2.stop();
    }
  });

  it('without processed_mailbox, imported mail is flagged \\Seen and $DeskgateImported; a UIDVALIDITY change rescans safely', async () => {
    const old = uniqueId('uv-old');
    await dovecot.append('Flagged', mail({ messageId: old }));
    const p = poller({ mailbox: 'Flagged', processed_mailbox: undefined });
    p.start();
    await waitFor(async () => (await comments(old)) === 1, 'first import');
    await p.stop();
    const c = dovecot.client();
    await c.connect();
    const lock = await c.getMailboxLock('Flagged');
    const fetched = await c.fetchOne('1', { flags: true });
    const flags = [...((fetched && fetched.flags) || [])];
    lock.release();
    assert.ok(flags.includes('\\Seen') && flags.includes('$DeskgateImported'), flags.join(' '));
    const state = createImapStateRepo(d.app.sql);
    const key = accountKey({ user: IMAP_USER, host: '127.0.0.1', port: dovecot.port, mailbox: 'Flagged' });
    const before = (await state.get(key, new Date().toISOString()));
    // Recreate the mailbox: new UIDVALIDITY, the old message back without our flags, plus a new one.
    await c.mailboxDelete('Flagged');
    await c.mailboxCreate('Flagged');
    await c.logout();
    const fresh = uniqueId('uv-new');
    await dovecot.append('Flagged', mail({ messageId: old }), mail({ messageId: fresh }));
    const p2 = poller({ mailbox: 'Flagged', processed_mailbox: undefined });
    p2.start();
    try {
      await waitFor(async () => (await comments(fresh)) === 1, 'new message after UIDVALIDITY change');
      await waitFor(async () => (await state.get(key, new Date().toISOString())).last_uid === 2, 'rescan to the end');
      assert.equal((await comments(old)), 1, 'the old message is not imported twice');
      assert.notEqual((await state.get(key, new Date().toISOString())).uidvalidity, before.uidvalidity);
    } finally {
      await p2.stop();
    }
  });
});

describe('IMAP failures stay contained', () => {
  it('a wrong password gives a clear log line and status; SMTP keeps working', async () => {
    const dovecot = await new Dovecot().start();
    const env = makeEnv((c) => {
      c.log = { level: 'info' };
      c.imap = [account(dovecot.port, { pass: 'wrong-password', mailbox: 'INBOX' })];
    });
    try {
      const s = await spawnServe(env.configPath);
      try {
        await waitFor(() => /"event":"imap:auth_failed"/.test(s.logs()), 'auth failure logged');
        const line = s.logs().split('\n').find((l) => l.includes('imap:auth_failed'))!;
        assert.match(line, /authentication failed for support@acme\.test/);
        assert.match(line, /check the user and password/);
        assert.match(await sendMail(s.port, 'support@acme.test', mail({ subject: 'SMTP still works' })), /^250 /);
        const status = await cliJson<Array<{ state: string; last_error: string }>>(['imap', 'status', '-c', env.configPath]);
        assert.equal(status[0]!.state, 'error');
        assert.match(status[0]!.last_error, /authentication failed/);
        await waitFor(async () => (await cliJson<Array<{ subject: string }>>(['tickets', 'list', '-c', env.configPath])).some((t) => t.subject === 'SMTP still works'), 'SMTP ticket');
      } finally {
        s.child.kill('SIGTERM');
        assert.equal(await waitExit(s.child), 0);
      }
    } finally {
      await dovecot.destroy();
      env.cleanup();
    }
  });
});
