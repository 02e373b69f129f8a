import { it } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, SUPPORT } from '../helpers/env.js';
import { mail } from '../helpers/mail.js';
import { sha256Hex } from '../../src/store/index.js';
import { composeApp } from '../../src/compose.js';
import { silentLogger } from '../../src/shared/logger.js';

it('R8: a batch reads and parses at most processing.batch_bytes of raw mail at once; all are stored', async () => {
  const env = makeEnv((c) => { c.processing = { parse_workers: 0, batch_size: 64, batch_bytes: '64KB' }; });
  const app = await composeApp(env.config, { logger: silentLogger(), parseWorkers: 0 });
  try {
    for (let i = 0; i < 10; i++) {
      const raw = mail({ messageId: `<bb-${i}@customer.test>`, subject: `big ${i}`, body: 'x'.repeat(20_000) });
      (await app.intake.insert({
        dedupeKey: `mid:<bb-${i}@customer.test>`, messageId: `<bb-${i}@customer.test>`, rawPath: null, rawInline: raw, rawSize: raw.length,
        rawSha256: sha256Hex(raw), via: 'smtp', envelopeFrom: 'carol@customer.test', envelopeTo: [SUPPORT], remoteIp: '127.0.0.1', helo: 'x',
        sender: 'carol@customer.test', subject: `big ${i}`, receivedAt: new Date().toISOString(), contentDigest: null,
      }));
    }
    // Count the raw bytes handed to the parser and not yet settled.
    const inner = app.ctx.parser;
    let held = 0;
    let peak = 0;
    app.ctx.parser = {
      parse: async (raw, hints) => {
        held += raw.length; peak = Math.max(peak, held);
        try { return await inner.parse(raw, hints); } finally { held -= raw.length; }
      },
      close: () => inner.close(),
    };
    const outcomes = await app.processor.drain();
    assert.deepEqual(outcomes.map((o) => o.status), Array(10).fill('done'));
    assert.ok(peak <= 64 * 1024, `peak raw bytes in parsing ${peak}`);
  } finally {
    await app.close();
    env.cleanup();
  }
});
