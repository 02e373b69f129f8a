import { it } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, SUPPORT } from '../helpers/env.js';
import { mail } from '../helpers/mail.js';
import { sha256Hex } from '../../src/store/index.js';
import { composeApp } from '../../src/compose.js';
import { silentLogger } from '../../src/shared/logger.js';

/**
 * Issue 13: a flood of big mail (seconds of parsing each) must not hold up the small mail that
 * arrives behind it. Big messages (over 1 MB) are claimed one at a time, when no small one waits.
 */
it('R8: small mail waiting behind big mail is processed first; big mail goes one per batch', async () => {
  const env = makeEnv((c) => { c.processing = { parse_workers: 0, batch_size: 64 }; });
  const app = await composeApp(env.config, { logger: silentLogger(), parseWorkers: 0 });
  try {
    const add = async (tag: string, bodyBytes: number) => {
      const id = `<${tag}@customer.test>`;
      const raw = mail({ messageId: id, subject: tag, body: `${'x'.repeat(75)}\n`.repeat(Math.ceil(bodyBytes / 76)) });
      (await app.intake.insert({
        dedupeKey: `mid:${id}`, messageId: id, rawPath: null, rawInline: raw, rawSize: raw.length, rawSha256: sha256Hex(raw), via: 'smtp',
        envelopeFrom: 'carol@customer.test', envelopeTo: [SUPPORT], remoteIp: '127.0.0.1', helo: 'x', sender: 'carol@customer.test',
        subject: tag, receivedAt: new Date().toISOString(), contentDigest: null,
      }));
    };
    await add('big-1', 1_500_000);
    await add('big-2', 1_500_000);
    await add('small-1', 2_000);
    await add('small-2', 2_000);
    const batches: string[][] = [];
    const subjects = async (ids: number[]) => Promise.all(ids.map(async (id) => (await app.intake.get(id))!.subject ?? ''));
    for (let i = 0; i < 5; i++) {
      const before = new Set(((await app.sql.column("SELECT id FROM intake WHERE status = 'done'")) as number[]));
      if ((await app.processor.processBatch()) === 0) break;
      batches.push(await subjects(((await app.sql.column("SELECT id FROM intake WHERE status = 'done'")) as number[]).filter((id) => !before.has(id))));
    }
    assert.deepEqual(batches, [['small-1', 'small-2'], ['big-1'], ['big-2']]);
  } finally {
    await app.close();
    env.cleanup();
  }
});
