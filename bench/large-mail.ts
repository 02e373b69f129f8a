/**
 * Large mail: one message with a 25 MB attachment through `deskgate serve`; peak RSS growth of
 * the daemon (VmHWM) against the message size.
 *   npx tsx bench/large-mail.ts [megabytes=25] [cold] [postgres]
 * `postgres` runs the daemon on a throwaway PostgreSQL cluster (issue 14: raw mail and
 * attachments in the database) instead of SQLite.
 * A small message goes first, so the growth is the big message's own and not the parser
 * thread's start (a daemon's threads start with its first mail and stay); `cold` skips it.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { smtpLoad, startChild, stopChild, benchConfig, fmt, ROOT } from './lib/load.js';
import { startCluster, createDatabase } from './postgres.js';

const MB = Number(process.argv[2] ?? 25);
const cold = process.argv.includes('cold');
const onPostgres = process.argv.includes('postgres');
const cluster = onPostgres ? await startCluster() : undefined;
const pgUrl = cluster ? await createDatabase(cluster, 'bench_large') : undefined;
const b = benchConfig(2628, `processing: { parse_workers: 1 }\n${pgUrl ? `store: { backend: postgres, url: "${pgUrl}" }\n` : ''}`).config;
const cfgDir = b.slice(0, b.lastIndexOf('/'));
// max_message_size must allow the base64-encoded attachment.
const { writeFileSync } = await import('node:fs');
writeFileSync(b, readFileSync(b, 'utf8').replace('max_clients: 500', `max_clients: 500, max_message_size: ${MB * 2}MB`));
const dg = await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b], /serve:ready/);
const pid = dg.child.pid!;
const status = () => readFileSync(`/proc/${pid}/status`, 'utf8');
const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status())![1]) * 1024;
/** The daemon's store, read by the bench: the number of processed messages and the last one's outcome. */
const reader = pgUrl ? new pg.Client({ connectionString: pgUrl }) : undefined;
await reader?.connect();
const db = reader ? undefined : new Database(join(cfgDir, 'data', 'deskgate.sqlite'), { readonly: true });
const query = async <T>(text: string): Promise<T> => (reader ? (await reader.query(text)).rows[0] as T : db!.prepare(text).get() as T);
const processed = async (n: number) => {
  for (let i = 0; i < 600; i++) {
    if (Number((await query<{ n: number }>("SELECT count(*) AS n FROM intake WHERE status IN ('done','failed')")).n) === n) return;
    await new Promise((res) => setTimeout(res, 100));
  }
};
if (!cold) {
  const small = ['From: Carol <carol@customer.test>', 'To: support@acme.test', 'Subject: warm-up', `Message-ID: <warm-${Date.now()}@bench.test>`, 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'first mail', '--b',
    'Content-Type: application/octet-stream; name="small.bin"', 'Content-Transfer-Encoding: base64', '', randomBytes(30_000).toString('base64').replace(/.{76}/g, '$&\r\n'), '--b--', ''].join('\r\n');
  await smtpLoad(2628, 1, 1, () => small);
  await processed(1);
}
await new Promise((r) => setTimeout(r, 1000));
const before = kb('VmRSS');
const attachment = randomBytes(MB * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
const raw = ['From: Carol <carol@customer.test>', 'To: support@acme.test', 'Subject: big', `Message-ID: <big-${Date.now()}@bench.test>`, 'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'see attached', '--b',
  'Content-Type: application/octet-stream; name="big.bin"', 'Content-Transfer-Encoding: base64', '', attachment, '--b--', ''].join('\r\n');
const r = await smtpLoad(2628, 1, 1, () => raw);
await processed(cold ? 1 : 2);
const status1 = await query<{ status: string; error: string | null }>('SELECT status, error FROM intake ORDER BY id DESC LIMIT 1');
db?.close();
await reader?.end();
const peak = kb('VmHWM');
await stopChild(dg.child);
rmSync(cfgDir, { recursive: true, force: true });
const growth = peak - before;
console.log(`large mail on ${pgUrl ? 'PostgreSQL' : 'SQLite'}${cold ? ' (cold: the first mail the daemon parses)' : ' (after one small mail)'}: ${MB} MB attachment (${fmt(raw.length / 1048576, 1)} MB on the wire), accepted in ${fmt(r.seconds, 2)} s, ${status1.status}${status1.error ? ` (${status1.error})` : ''}`);
console.log(`  RSS before ${fmt(before / 1048576, 1)} MB, peak ${fmt(peak / 1048576, 1)} MB: growth ${fmt(growth / 1048576, 1)} MB = ${fmt(growth / (MB * 1048576), 2)}x the attachment, ${fmt(growth / raw.length, 2)}x the message (target <= 1.5x)`);
