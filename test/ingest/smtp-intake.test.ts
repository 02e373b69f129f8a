import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, BILLING, type TestEnv } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient, sendMail } from '../helpers/smtp.js';
import { makeReplyToken } from '../../src/thread/index.js';
import type { Daemon } from '../../src/daemon.js';
import type { TicketJson } from '../../src/store/index.js';

describe('SMTP intake over real sockets (R5, R6, R7, R8, R10-R14, R61-R64)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };

  before(async () => {
    env = makeEnv();
    d = await startTestDaemon(env, { parseWorkers: 1 });
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  const secret = () => d.app.ctx.secret;
  /** Sends a message and waits until it is processed; returns its ticket. */
  async function deliver(raw: Buffer, rcpt: string | string[] = SUPPORT): Promise<TicketJson> {
    const reply = await sendMail(d.port, rcpt, raw);
    assert.match(reply, /^250 /, `delivery refused: ${reply}`);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => {
      const r = (await d.app.intake.get(intakeId));
      return r && (r.status === 'done' || r.status === 'failed') ? r : undefined;
    }, `intake ${intakeId} processed`);
    assert.equal(row.status, 'done', `processing failed: ${row.error}`);
    return (await d.app.views.show(row.ticket_id!))!;
  }

  it('R5: refuses a recipient that is not a support address with 550 5.1.1', async () => {
    const reply = await sendMail(d.port, 'nobody@acme.test', mail());
    assert.match(reply, /^550 5\.1\.1/);
  });

  it('R5: refuses relaying to an outside domain with 550 and stores nothing', async () => {
    const before = (await d.app.views.list()).length;
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO relay.test');
    assert.match(await c.cmd('MAIL FROM:<spammer@evil.test>'), /^250/);
    assert.match(await c.cmd('RCPT TO:<victim@gmail.test>'), /^550 5\.1\.1/);
    assert.match(await c.cmd('RCPT TO:<support@acme.test.evil.test>'), /^550/);
    assert.match(await c.cmd('DATA'), /^503/);
    await c.quit();
    assert.equal((await d.app.views.list()).length, before);
  });

  it('never offers AUTH (no way to become a relay by logging in)', async () => {
    const c = await SmtpClient.connect(d.port);
    assert.doesNotMatch(await c.cmd('EHLO x.test'), /AUTH/);
    assert.match(await c.cmd('AUTH PLAIN AGFAYg=='), /^50[0-4]/);
    await c.quit();
  });

  it('R8: a message over smtp.max_message_size gets 552 5.3.4 and stores nothing', async () => {
    const before = (await d.app.intake.pendingCount()) + (await d.app.intake.list('done')).length;
    const big = mail({ body: 'x'.repeat(76) .concat('\n').repeat(16_000) }); // ~1.2 MB > 1MB limit
    const reply = await sendMail(d.port, SUPPORT, big);
    assert.match(reply, /^552 5\.3\.4/);
    assert.equal((await d.app.intake.pendingCount()) + (await d.app.intake.list('done')).length, before);
  });

  it('R12: a new message makes a new ticket with requester, recipient, group and a public first comment', async () => {
    const t = await deliver(mail({ from: 'Dana Doe <Dana@Customer.TEST>', to: BILLING, subject: 'Invoice wrong' }), BILLING);
    assert.equal(t.subject, 'Invoice wrong');
    assert.equal(t.status, 'new');
    assert.deepEqual(t.requester, { email: 'dana@customer.test', name: 'Dana Doe' });
    assert.equal(t.recipient, BILLING);
    assert.equal(t.group, 'Billing');
    assert.equal(t.via, 'smtp');
    assert.equal(t.comments!.length, 1);
    assert.equal(t.comments![0]!.public, true);
    assert.equal(t.comments![0]!.body, 'It is on fire again.');
  });

  it('R12: an empty subject becomes "(no subject)"', async () => {
    const t = await deliver(mail({ subject: '' }));
    assert.equal(t.subject, '(no subject)');
  });

  it('R10: a reply joins its ticket by In-Reply-To', async () => {
    const first = uniqueId();
    const t1 = await deliver(mail({ messageId: first }));
    const t2 = await deliver(mail({ subject: 'Re: whatever', inReplyTo: first, body: 'Still burning.' }));
    assert.equal(t2.id, t1.id);
    assert.deepEqual(t2.comments!.map((c) => c.body), ['It is on fire again.', 'Still burning.']);
  });

  it('R10: a reply joins its ticket by References alone (newest reference first)', async () => {
    const first = uniqueId();
    const t1 = await deliver(mail({ messageId: first }));
    const t2 = await deliver(mail({ subject: 'different subject', references: `<unknown@elsewhere.test> ${first}` }));
    assert.equal(t2.id, t1.id);
  });

  it('R11: a reply joins by a signed token in a plus-address', async () => {
    const t1 = await deliver(mail());
    const plus = `support+${makeReplyToken(t1.id, secret())}@acme.test`;
    const t2 = await deliver(mail({ to: plus, subject: 'no headers at all' }), plus);
    assert.equal(t2.id, t1.id);
    assert.equal(t2.recipient, SUPPORT);
  });

  it('R11: a reply joins by a signed [DG-…] token in the body', async () => {
    const t1 = await deliver(mail());
    const body = `Thanks!\n\n> old text\n> [DG-${makeReplyToken(t1.id, secret())}]\n`;
    const t2 = await deliver(mail({ body }));
    assert.equal(t2.id, t1.id);
  });

  it('R11: a forged or unsigned token makes a new ticket', async () => {
    const t1 = await deliver(mail());
    const forged = `${t1.id}-0123456789abcdef`;
    const t2 = await deliver(mail({ body: `hi [DG-${forged}]` }));
    assert.notEqual(t2.id, t1.id);
    const plus = `support+${t1.id}@acme.test`;
    const t3 = await deliver(mail({ to: plus }), plus);
    assert.notEqual(t3.id, t1.id);
  });

  it('R11: subject lines never thread', async () => {
    const t1 = await deliver(mail({ subject: 'Order #123' }));
    const t2 = await deliver(mail({ subject: `Re: Order #123 [#${t1.id}]` }));
    assert.notEqual(t2.id, t1.id);
  });

  it('R7: the same Message-ID delivered twice is stored once (SMTP retry)', async () => {
    const id = uniqueId('dup');
    const raw = mail({ messageId: id });
    const t1 = await deliver(raw);
    const reply = await sendMail(d.port, SUPPORT, raw);
    assert.match(reply, /^250 .*duplicate/);
    await new Promise((r) => setTimeout(r, 100));
    const t = (await d.app.views.show(t1.id))!;
    assert.equal(t.comments!.filter((c) => c.message_id === id).length, 1);
    assert.equal((await d.app.views.list()).filter((x) => x.subject === t1.subject && x.created_at === t1.created_at).length, 1);
  });

  it('R7: one mail to two support addresses makes one ticket whose recipient is the first in To', async () => {
    const id = uniqueId('two');
    const raw = mail({ messageId: id, to: [BILLING, SUPPORT] });
    const t = await deliver(raw, [SUPPORT, BILLING]);
    assert.equal(t.recipient, BILLING);
    // The same mail arriving again as a separate transaction for the other address: still one.
    assert.match(await sendMail(d.port, BILLING, raw), /^250 .*duplicate/);
    const shown = await Promise.all((await d.app.views.list()).map((x) => d.app.views.show(x.id)));
    const withId = shown.filter((x) => x!.comments!.some((c) => c.message_id === id));
    assert.equal(withId.length, 1);
  });

  it('R13: an end-user reply reopens a solved ticket', async () => {
    const first = uniqueId();
    const t1 = await deliver(mail({ messageId: first }));
    (await d.app.tickets.setAssignee(t1.id, (await d.app.tickets.ensureUser('bob@acme.test')), new Date().toISOString()));
    (await d.app.tickets.setStatus(t1.id, 'solved', new Date().toISOString()));
    const t2 = await deliver(mail({ inReplyTo: first, body: 'Not fixed!' }));
    assert.equal(t2.id, t1.id);
    assert.equal(t2.status, 'open');
    assert.ok(t2.audit!.some((a) => a.rule === 'R13' && a.value === 'solved->open'));
  });

  it('R14: a reply to a closed ticket creates a follow-up with tags and CCs, not comments', async () => {
    const first = uniqueId();
    const t1 = await deliver(mail({ messageId: first, subject: 'Broken laptop' }));
    const now = new Date().toISOString();
    (await d.app.tickets.setTags(t1.id, ['vip'], now));
    (await d.app.tickets.addCc(t1.id, (await d.app.tickets.ensureUser('dan@customer.test', 'Dan')), now));
    (await d.app.tickets.setStatus(t1.id, 'closed', now));
    const t2 = await deliver(mail({ inReplyTo: first, from: 'Eve <eve@customer.test>', body: 'It broke again' }));
    assert.notEqual(t2.id, t1.id);
    assert.equal(t2.follow_up_of, t1.id);
    assert.equal(t2.via, 'closed_ticket');
    assert.equal(t2.subject, 'Broken laptop', 'R14: the follow-up keeps the closed ticket\'s subject');
    assert.equal(t2.requester.email, 'eve@customer.test');
    assert.deepEqual(t2.tags, ['vip']);
    assert.deepEqual(t2.ccs.map((c) => c.email), ['dan@customer.test']);
    assert.equal(t2.comments!.length, 1);
    const closed = (await d.app.views.show(t1.id))!;
    assert.equal(closed.status, 'closed');
    assert.equal(closed.comments!.length, 1, 'a closed ticket never changes');
  });

  it('R61/R62: a latin-1 body and an encoded-word subject are stored as UTF-8', async () => {
    const body = Buffer.from('Caf\xe9 cr\xe8me br\xfbl\xe9e\r\n', 'latin1');
    const head = Buffer.from([
      'From: =?ISO-8859-1?Q?Ren=E9_M=FCller?= <rene@customer.test>', `To: ${SUPPORT}`,
      'Subject: =?ISO-8859-1?Q?R=E9clamation_=E0_propos?=', `Message-ID: ${uniqueId()}`,
      'MIME-Version: 1.0', 'Content-Type: text/plain; charset=ISO-8859-1', 'Content-Transfer-Encoding: 8bit', '', ''].join('\r\n'), 'latin1');
    const t = await deliver(Buffer.concat([head, body]));
    assert.equal(t.subject, 'Réclamation à propos');
    assert.equal(t.requester.name, 'René Müller');
    assert.equal(t.comments![0]!.body, 'Café crème brûlée');
  });

  it('R61: an HTML-only message is stored as text, its HTML sanitised', async () => {
    const html = '<html><body><p>Hello <b>team</b></p><script>alert(1)</script><img src="https://track.test/x.gif" onerror="x()"></body></html>';
    const t = await deliver(mail({ contentType: 'text/html; charset=utf-8', body: html }));
    const c = t.comments![0]!;
    assert.match(c.body, /Hello team/i);
    assert.ok(c.html_body && !/script|onerror/i.test(c.html_body));
  });

  it('R63: attachments keep filename, type, size and sha256; content is stored by hash', async () => {
    const content = Buffer.from('%PDF-1.4 fake pdf content\n');
    const rawBody = [
      'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain; charset=utf-8', '', 'See attached.', '--b1',
      'Content-Type: application/pdf; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="', 'Content-Disposition: attachment; filename*=UTF-8\'\'r%C3%A9sum%C3%A9.pdf',
      'Content-Transfer-Encoding: base64', '', content.toString('base64'), '--b1--', ''].join('\r\n');
    const t = await deliver(mail({ rawBody }));
    const a = t.comments![0]!.attachments;
    assert.equal(a.length, 1);
    assert.equal(a[0]!.filename, 'résumé.pdf');
    assert.equal(a[0]!.content_type, 'application/pdf');
    assert.equal(a[0]!.size, content.length);
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(content).digest('hex');
    assert.equal(a[0]!.sha256, sha);
    // SQLite: a file under data_dir; PostgreSQL: a blob every node reads (issue 14).
    if (d.app.store.blobs) assert.deepEqual(await d.app.store.blobs.read(`attachment/${sha}`), content);
    else assert.deepEqual((await import('node:fs')).readFileSync(`${env.config.data_dir}/attachments/${sha.slice(0, 2)}/${sha}`), content);
  });

  const replyCases: Array<{ name: string; body: string; expected: string }> = [
    { name: 'Gmail', body: 'Thanks, that fixed it.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Acme Support <support@acme.test> wrote:\n> ##- Please type your reply above this line -##\n> Your ticket was updated.\n', expected: 'Thanks, that fixed it.' },
    { name: 'Outlook', body: 'It still fails on Windows.\n\n________________________________\nFrom: Acme Support <support@acme.test>\nSent: Monday, November 23, 2026 10:00 AM\nTo: Carol\nSubject: RE: Printer\n\nYour ticket was updated.\n', expected: 'It still fails on Windows.' },
    { name: 'Apple Mail', body: 'Works now, thank you!\n\nSent from my iPhone\n\n> On 23 Nov 2026, at 10:00, Acme Support <support@acme.test> wrote:\n>\n> Your ticket was updated.\n', expected: 'Works now, thank you!' },
    { name: 'reply line (R57)', body: 'Top answer here.\n\n##- Please type your reply above this line -##\n\nBob replied: blah\n', expected: 'Top answer here.' },
  ];
  for (const rc of replyCases) {
    it(`R64: the reply cut of a quoted ${rc.name} reply keeps only the new text`, async () => {
      const first = uniqueId();
      await deliver(mail({ messageId: first }));
      const t = await deliver(mail({ inReplyTo: first, body: rc.body }));
      const last = t.comments!.at(-1)!;
      assert.equal(last.body, rc.expected);
    });
  }

  it('R64: a new ticket keeps its whole text, signature and quoted block included (only replies are cut)', async () => {
    const body = 'Please see below.\n\n---------- Forwarded message ---------\nFrom: Zoe <zoe@customer.test>\n\n> the original problem\n\n-- \nCarol\n';
    const t = await deliver(mail({ subject: 'Fwd: problem', body }));
    assert.equal(t.comments![0]!.body, body.trimEnd());
  });

  it('R6: a message over 256 KB is spooled to an fsynced file and processed the same way', async () => {
    const body = 'z'.repeat(76).concat('\n').repeat(4000);
    const t = await deliver(mail({ subject: 'Big one', body }));
    assert.equal(t.comments![0]!.body.length, body.trimEnd().length);
    const row = (await d.app.sql.get('SELECT raw_path FROM intake WHERE ticket_id = ?', [t.id])) as { raw_path: string | null };
    assert.ok(row.raw_path?.startsWith(d.app.store.backend === 'postgres' ? 'blob:raw/' : 'raw/'), `spooled: ${row.raw_path}`);
    const raw = await d.app.raw.read(row.raw_path!);
    assert.ok(raw.includes('Subject: Big one'), 'the spooled bytes read back');
  });

  it('R9: a comment keeps the cut text, sanitised HTML, attachments, Message-ID, addresses and the raw message', async () => {
    const first = uniqueId('r9-first');
    await deliver(mail({ messageId: first }));
    const id = uniqueId('r9');
    const rawBody = [
      'Content-Type: multipart/mixed; boundary="outer"', '', '--outer', 'Content-Type: multipart/alternative; boundary="alt"', '',
      '--alt', 'Content-Type: text/plain; charset=utf-8', '', 'New answer.', '', 'On Mon, Acme <support@acme.test> wrote:', '> old quoted text', '',
      '--alt', 'Content-Type: text/html; charset=utf-8', '', '<p onclick="x()">New answer.</p><script>bad()</script>', '--alt--',
      '--outer', 'Content-Type: text/csv; name="data.csv"', 'Content-Disposition: attachment; filename="data.csv"', '', 'a,b', '--outer--', ''].join('\r\n');
    const t = await deliver(mail({ messageId: id, inReplyTo: first, cc: 'dan@customer.test', rawBody }));
    const c = t.comments!.find((x) => x.message_id === id)!;
    assert.equal(c.body, 'New answer.', 'quoted history cut (R64)');
    assert.ok(c.html_body?.includes('New answer.') && !/onclick|script/i.test(c.html_body), 'HTML sanitised');
    assert.deepEqual(c.attachments.map((a) => [a.filename, a.content_type]), [['data.csv', 'text/csv']]);
    assert.deepEqual([c.to, c.cc], [['support@acme.test'], ['dan@customer.test']]);
    const intakeId = (await d.app.sql.value('SELECT intake_id FROM comments WHERE id = ?', [c.id])) as number;
    const raw = (await d.app.intake.rawBytes(intakeId))!.toString();
    assert.ok(raw.includes('> old quoted text') && raw.includes(id), 'the full original stays in the raw message');
  });

  it('R8: a message with no sender at all is kept as failed with the reason, and later mail still flows', async () => {
    const raw = Buffer.from(`To: ${SUPPORT}\r\nSubject: anonymous\r\nMessage-ID: ${uniqueId()}\r\n\r\nhello\r\n`);
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO x.test');
    const reply = await c.send('', [SUPPORT], raw);
    await c.quit();
    assert.match(reply, /^250 /);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => { const r = (await d.app.intake.get(intakeId)); return r?.status === 'failed' ? r : undefined; }, 'failed row');
    assert.equal(row.error_code, 'RULES_NO_SENDER');
    const t = await deliver(mail());
    assert.ok(t.id > 0);
  });
});

describe('big mail (R6, R63; issue 14 on PostgreSQL)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  before(async () => {
    env = makeEnv((c) => { (c.smtp as Record<string, unknown>).max_message_size = '8MB'; });
    d = await startTestDaemon(env, { parseWorkers: 1 });
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  it('R63, R6: a 3 MB attachment in a message over 1 MB is stored intact, and on PostgreSQL no scratch file stays behind (issue 14)', async () => {
    const { createHash, randomBytes } = await import('node:crypto');
    const { readdirSync, existsSync, readFileSync } = await import('node:fs');
    const content = randomBytes(3 * 1024 * 1024 + 11);
    const rawBody = [
      'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain; charset=utf-8', '', 'The log is attached.', '--b1',
      'Content-Type: application/octet-stream; name="trace.bin"', 'Content-Disposition: attachment; filename="trace.bin"',
      'Content-Transfer-Encoding: base64', '', content.toString('base64').replace(/.{76}/g, '$&\r\n'), '--b1--', ''].join('\r\n');
    const reply = await sendMail(d.port, SUPPORT, mail({ rawBody }));
    assert.match(reply, /^250 /);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => { const r = await d.app.intake.get(intakeId); return r?.status === 'done' || r?.status === 'failed' ? r : undefined; }, 'the big message processed', 60_000);
    assert.equal(row.status, 'done', `processing failed: ${row.error}`);
    const t = (await d.app.views.show(row.ticket_id!))!;
    const [a] = t.comments![0]!.attachments;
    const sha = createHash('sha256').update(content).digest('hex');
    assert.deepEqual([a!.filename, a!.size, a!.sha256], ['trace.bin', content.length, sha]);
    if (d.app.store.blobs) assert.ok((await d.app.store.blobs.read(`attachment/${sha}`)).equals(content));
    else assert.ok(readFileSync(`${env.config.data_dir}/attachments/${sha.slice(0, 2)}/${sha}`).equals(content));
    // PostgreSQL: the raw message was streamed from the database into a scratch file for the
    // parser, the attachment from a scratch file into the database; both files are gone.
    const scratch = `${env.config.data_dir}/scratch`;
    const left = existsSync(scratch) ? readdirSync(scratch, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : [];
    assert.deepEqual(left, []);
    assert.equal(existsSync(scratch), d.app.store.backend === 'postgres', 'a scratch directory exists only on PostgreSQL');
  });

  it('R63: the same big attachment again is stored once, and no descriptor keeps a removed scratch file open (issue 14)', async () => {
    const { randomBytes } = await import('node:crypto');
    const { readdirSync, readlinkSync } = await import('node:fs');
    const content = randomBytes(2 * 1024 * 1024);
    const rawBody = (name: string) => [
      'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'Again.', '--b1',
      `Content-Type: application/octet-stream; name="${name}"`, 'Content-Transfer-Encoding: base64', '',
      content.toString('base64').replace(/.{76}/g, '$&\r\n'), '--b1--', ''].join('\r\n');
    for (const name of ['first.bin', 'second.bin']) {
      const reply = await sendMail(d.port, SUPPORT, mail({ rawBody: rawBody(name) }));
      const id = Number(/queued as (\d+)/.exec(reply)![1]);
      const row = await waitFor(async () => { const r = await d.app.intake.get(id); return r?.status === 'done' || r?.status === 'failed' ? r : undefined; }, 'processed', 60_000);
      assert.equal(row.status, 'done', row.error ?? '');
    }
    await new Promise((r) => setTimeout(r, 200));
    const open = readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } });
    assert.deepEqual(open.filter((l) => l.includes('/scratch/') || (l.includes(env.dir) && l.endsWith('(deleted)'))), []);
  });
});
