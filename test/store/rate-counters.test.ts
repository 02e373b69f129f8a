import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, sqliteSql, createRateCountersRepo, createIntakeRepo, createOutboxRepo, type NewIntake } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'deskgate-rates-'));
const db = openDatabase(dir);
    const dbSql = sqliteSql(db);
after(() => { db.close(); rmSync(dir, { recursive: true, force: true }); });
const T0 = Date.parse('2026-11-23T10:00:30Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

describe('R43 rolling-hour counters', () => {
  it('R43: a count holds for the hour and rolls off after it (to the minute)', async () => {
    const rates = createRateCountersRepo(dbSql);
    for (let i = 0; i < 3; i++) (await rates.bump('notify', 'roll@customer.test', at(0)));
    (await rates.bump('notify', 'roll@customer.test', at(30)));
    assert.equal((await rates.count('notify', 'roll@customer.test', at(30))), 4);
    assert.equal((await rates.count('notify', 'roll@customer.test', at(60))), 4, 'an hour later the first three still count');
    assert.equal((await rates.count('notify', 'roll@customer.test', at(61))), 1, 'after 61 minutes they are gone');
    assert.equal((await rates.count('notify', 'roll@customer.test', at(92))), 0);
    assert.equal((await rates.count('sender', 'roll@customer.test', at(30))), 0, 'kinds are counted apart');
  });

  it('R43: expired minutes are pruned, so the table holds at most the last hour', async () => {
    const rates = createRateCountersRepo(dbSql);
    // The claim lease's sweep prunes about once a minute, in autocommit (not inside the batch that bumps).
    for (let m = 0; m < 180; m++) { await rates.bump('notify', 'busy@customer.test', at(200 + m)); await rates.prune(at(200 + m)); }
    const rows = db.prepare('SELECT count(*) FROM rate_counters WHERE address = ?').pluck().get('busy@customer.test') as number;
    assert.ok(rows <= 61, `${rows} rows kept`);
    assert.equal((await rates.count('notify', 'busy@customer.test', at(379))), 61);
  });

  it('R43: queued notifications count, held ones do not', async () => {
    const outbox = createOutboxRepo(dbSql);
    const base = { ticketId: 1, trigger: 't', from: { email: 'support@acme.test', name: null }, replyTo: null, cc: [], subject: 's', body: 'b', inReplyTo: null, references: [], headers: {} };
    db.pragma('foreign_keys = OFF'); // no ticket 1 in this store-only test
    (await outbox.enqueue({ ...base, status: 'queued', to: [{ email: 'q@customer.test', name: null }], messageId: '<q1@x>', now: at(500) }));
    (await outbox.enqueue({ ...base, status: 'held', to: [{ email: 'q@customer.test', name: null }], messageId: '<q2@x>', now: at(500) }));
    db.pragma('foreign_keys = ON');
    assert.equal((await outbox.countSentTo('q@customer.test', at(501))), 1);
  });

  it('R43: each message keeps how many came from its sender in the hour before it', async () => {
    const intake = createIntakeRepo(dbSql);
    const row = (i: number, minute: number, sender: string | null = 'loop@customer.test'): NewIntake => ({
      dedupeKey: `rate-${i}`, messageId: `<rate-${i}@x>`, rawPath: null, rawInline: Buffer.from('x'), rawSize: 1, rawSha256: 'x', via: 'smtp',
      envelopeFrom: null, envelopeTo: ['support@acme.test'], remoteIp: null, helo: null, sender, subject: null, receivedAt: at(minute), contentDigest: null,
    });
    const ids = await dbSql.tx(async () => {
      const out: number[] = [];
      for (let i = 0; i < 25; i++) out.push((await intake.insert(row(i, 1000))).id);
      return out;
    });
    const recent = await Promise.all(ids.map(async (id) => (await intake.get(id))!.sender_recent));
    assert.deepEqual(recent, Array.from({ length: 25 }, (_, i) => i));
    assert.equal((await intake.insert(row(0, 1000))).duplicate, true);
    assert.equal((await intake.countFromSender('loop@customer.test', at(1000 - 60), 40)), 25, 'a duplicate is not counted twice');
    const later = (await intake.insert(row(100, 1062))).id;
    assert.equal((await intake.get(later))!.sender_recent, 0, 'an hour later the sender starts again');
    assert.equal((await intake.get((await intake.insert(row(101, 1062, null))).id))!.sender_recent, null);
  });
});
