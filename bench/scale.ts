/**
 * Scale: new-ticket ingest with an empty database vs one seeded with 1,000,000 stored messages
 * (written by a generator straight into the tables, not over SMTP).
 *   npx tsx bench/scale.ts [stored=1000000] [messages=3000]
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openDatabase } from '../src/store/index.js';
import { ingestBench } from './ingest.js';
import { fmt } from './lib/load.js';

const STORED = Number(process.argv[2] ?? 1_000_000);
const N = Number(process.argv[3] ?? 3000);

/** 1,000,000 messages: 200,000 tickets of 5 comments, 50,000 customers, every Message-ID indexed. */
function seed(dataDir: string): void {
  const t0 = Date.now();
  openDatabase(dataDir).close(); // schema via the real migrations
  const db = new Database(join(dataDir, 'deskgate.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF'); // seeding only
  const now = new Date(Date.now() - 86_400_000).toISOString();
  const users = db.prepare('INSERT INTO users (email, name, created_at) VALUES (?, ?, ?)');
  const ticket = db.prepare(`INSERT INTO tickets (subject, status, requester_id, group_name, recipient, via, created_at, updated_at, status_changed_at) VALUES (?, 'open', ?, 'Support', 'support@acme.test', 'smtp', ?, ?, ?)`);
  const intake = db.prepare(`INSERT INTO intake (dedupe_key, message_id, raw_path, raw_size, raw_sha256, via, envelope_to, status, received_at, processed_at, ticket_id, sender) VALUES (?, ?, NULL, 4096, 'x', 'smtp', '["support@acme.test"]', 'done', ?, ?, ?, ?)`);
  const comment = db.prepare(`INSERT INTO comments (ticket_id, author_id, author_role, public, visibility_rule, body, message_id, intake_id, via, created_at) VALUES (?, ?, 'end_user', 1, 'R16', ?, ?, ?, 'smtp', ?)`);
  const mid = db.prepare(`INSERT INTO message_ids (message_id, ticket_id, direction, created_at) VALUES (?, ?, 'in', ?)`);
  const body = 'The printer on the third floor is on fire again. '.repeat(4);
  const customers = 50_000;
  db.transaction(() => { for (let u = 0; u < customers; u++) users.run(`seed${u}@customer.test`, `Seed ${u}`, now); })();
  const perTicket = 5;
  for (let start = 0; start < STORED; start += 50_000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(STORED, start + 50_000); i++) {
        const t = Math.floor(i / perTicket) + 1;
        const u = (t % customers) + 1;
        if (i % perTicket === 0) ticket.run(`Seed ticket ${t}`, u, now, now, now);
        const id = `<seed-${i}@customer.test>`;
        const intakeId = Number(intake.run(`mid:${id}`, id, now, now, t, `seed${u - 1}@customer.test`).lastInsertRowid);
        comment.run(t, u, body, id, intakeId, now);
        mid.run(id, t, now);
      }
    })();
  }
  db.close();
  console.log(`  seeded ${fmt(STORED)} messages in ${fmt((Date.now() - t0) / 1000, 1)} s`);
}

const empty = await ingestBench(N, 0);
const full = await ingestBench(N, 0, '', seed);
console.log(`scale: ${fmt(N)} new-ticket messages, 20 sessions, 4 KB`);
console.log(`  empty database        ${fmt(empty.accept.rate)} msg/s accepted, ${fmt(empty.e2e)} end to end, p99 ${fmt(empty.accept.p99, 1)} ms`);
console.log(`  ${fmt(STORED)} stored   ${fmt(full.accept.rate)} msg/s accepted, ${fmt(full.e2e)} end to end, p99 ${fmt(full.accept.p99, 1)} ms`);
console.log(`  ratio                 ${fmt(full.accept.rate / empty.accept.rate, 2)} accepted, ${fmt(full.e2e / empty.e2e, 2)} end to end (target >= 0.8)`);
