import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeEnv, SUPPORT } from '../helpers/env.js';
import { AttachmentStore } from '../../src/store/attachment-store.js';
import { mail } from '../helpers/mail.js';
import { sha256Hex } from '../../src/store/index.js';
import { composeApp } from '../../src/compose.js';
import { silentLogger } from '../../src/shared/logger.js';
import { sourceSize } from '../../src/parse/message-source.js';

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
      parse: async (source, hints) => {
        const n = sourceSize(source);
        held += n; peak = Math.max(peak, held);
        try { return await inner.parse(source, hints); } finally { held -= n; }
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

it('issue 15, R63: a spooled message reaches the parser as its file, never read here; its attachment is stored', async () => {
  const env = makeEnv((c) => { c.processing = { parse_workers: 1 }; });
  const app = await composeApp(env.config, { logger: silentLogger() });
  try {
    const attachment = randomBytes(600_000);
    const raw = Buffer.from([
      'From: Carol <carol@customer.test>', `To: ${SUPPORT}`, 'Subject: spooled', 'Message-ID: <spooled@customer.test>', 'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'see attached', '--b',
      'Content-Type: application/octet-stream; name="a.bin"', 'Content-Transfer-Encoding: base64', '', attachment.toString('base64').replace(/.{76}/g, '$&\r\n'), '--b--', '',
    ].join('\r\n'));
    const written = await app.ctx.raw.write(raw);
    assert.ok(written.relPath, 'past inline_max the message is spooled to a file');
    await app.ctx.raw.syncDirs(written.dirs);
    const seen: string[] = [];
    const inner = app.ctx.parser;
    app.ctx.parser = { parse: (source, hints) => { seen.push(Buffer.isBuffer(source) ? 'bytes' : `file of ${source.size}`); return inner.parse(source, hints); }, close: () => inner.close() };
    await app.intake.insert({
      dedupeKey: 'mid:<spooled@customer.test>', messageId: '<spooled@customer.test>', rawPath: written.relPath, rawInline: null, rawSize: raw.length,
      rawSha256: written.sha256, via: 'smtp', envelopeFrom: 'carol@customer.test', envelopeTo: [SUPPORT], remoteIp: '127.0.0.1', helo: 'x',
      sender: 'carol@customer.test', subject: 'spooled', receivedAt: new Date().toISOString(), contentDigest: null,
    });
    const [outcome] = await app.processor.drain();
    assert.equal(outcome?.status, 'done', outcome?.error);
    assert.deepEqual(seen, [`file of ${raw.length}`]);
    const stored = readFileSync(new AttachmentStore(env.config.data_dir).pathFor(createHash('sha256').update(attachment).digest('hex')));
    assert.ok(stored.equals(attachment), 'the decoded attachment is in the content store');
  } finally {
    await app.close();
    env.cleanup();
  }
});

it('R8: a spooled message whose file is gone is kept as failed (ENOENT, not a parse error of a parser thread); the rest of its batch is stored', async () => {
  const env = makeEnv((c) => { c.processing = { parse_workers: 1 }; });
  const app = await composeApp(env.config, { logger: silentLogger() });
  try {
    const row = (id: string, rawPath: string | null, raw: Buffer) => ({
      dedupeKey: `mid:${id}`, messageId: id, rawPath, rawInline: rawPath ? null : raw, rawSize: raw.length,
      rawSha256: sha256Hex(raw), via: 'smtp' as const, envelopeFrom: 'carol@customer.test', envelopeTo: [SUPPORT], remoteIp: '127.0.0.1', helo: 'x',
      sender: 'carol@customer.test', subject: id, receivedAt: new Date().toISOString(), contentDigest: null,
    });
    const raw = mail({ messageId: '<gone@customer.test>', subject: 'gone' });
    const ok = mail({ messageId: '<kept@customer.test>', subject: 'kept' });
    await app.intake.insert(row('<gone@customer.test>', 'raw/2026-12-02/no-such-file.eml', raw));
    await app.intake.insert(row('<kept@customer.test>', null, ok));
    const outcomes = await app.processor.drain();
    assert.deepEqual(outcomes.map((o) => [o.status, o.status === 'failed' ? o.code : null]), [['failed', 'ENOENT'], ['done', null]]);
  } finally {
    await app.close();
    env.cleanup();
  }
});
