/**
 * Where the time goes on PostgreSQL: the SQL statements (round trips) processing costs per
 * new-ticket message with the default triggers, by statement. Each is a network round trip on
 * PostgreSQL (about 0.5 ms here), which is what limits one node's processing.
 *   npx tsx bench/statements.ts
 */
import { PgCluster } from '../test/helpers/postgres.js';
import { makeEnv, SUPPORT } from '../test/helpers/env.js';
import { composeApp } from '../src/compose.js';
import { silentLogger } from '../src/shared/logger.js';
import { mail } from '../test/helpers/mail.js';
const c = await new PgCluster().start();
process.env.DESKGATE_TEST_DATABASE_URL = c.adminUrl;
const env = makeEnv((x) => { x.store = { backend: 'postgres', url: c.adminUrl }; });
const app = await composeApp(env.config, { logger: silentLogger(), parseWorkers: 0 });
const counts = new Map<string, number>();
for (const m of ['all', 'get', 'column', 'value', 'run'] as const) {
  const orig = (app.sql as any)[m].bind(app.sql);
  (app.sql as any)[m] = (text: string, p?: unknown) => { const k = text.replace(/\s+/g, ' ').slice(0, 70); counts.set(k, (counts.get(k) ?? 0) + 1); return orig(text, p); };
}
const N = 50;
for (let i = 0; i < N; i++) await app.accept(mail({ messageId: `<c${i}@x>`, from: `C${i} <c${i}@customer.test>` }), { via: 'smtp', from: `c${i}@customer.test`, to: [SUPPORT] });
counts.clear();
await app.processor.drain();
const total = [...counts.values()].reduce((a, b) => a + b, 0);
console.log(`statements per message: ${(total / N).toFixed(1)}`);
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${(v / N).toFixed(2)}  ${k}`);
await app.close(); c.stopSync(); env.cleanup();
