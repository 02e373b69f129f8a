import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessage } from '../../src/parse/parse-message.js';
import { createMessageParser } from '../../src/parse/index.js';
import { fileSink, scratchSink, parseCleaning } from '../../src/parse/file-sink.js';
import { AttachmentStore } from '../../src/store/attachment-store.js';

// Issue 15 / R63: attachments stream into the content store while they are decoded, hashed on the way.
function withAttachment(bytes: Buffer, name = 'report.bin'): Buffer {
  const b64 = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from([
    'From: Carol <carol@customer.test>', 'To: support@acme.test', 'Subject: Big file', 'Message-ID: <att@customer.test>',
    'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"', '',
    '--b1', 'Content-Type: text/plain; charset=utf-8', '', 'Here it is.', '',
    '--b1', `Content-Type: application/octet-stream; name="${name}"`, `Content-Disposition: attachment; filename="${name}"`, 'Content-Transfer-Encoding: base64', '',
    b64, '--b1--', '',
  ].join('\r\n'));
}

describe('R63: attachments stream into the content store', () => {
  it('inline parse with a file sink: the attachment is stored by its sha256 and comes back without its bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-att-'));
    try {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      const sha = createHash('sha256').update(bytes).digest('hex');
      const p = await parseMessage(withAttachment(bytes), { replyLine: '##- reply above -##', sink: fileSink(dir) });
      assert.equal(p.text.trim(), 'Here it is.');
      assert.equal(p.attachments.length, 1);
      const a = p.attachments[0]!;
      assert.deepEqual({ filename: a.filename, size: a.size, sha256: a.sha256, content: a.content }, { filename: 'report.bin', size: bytes.length, sha256: sha, content: undefined });
      assert.ok(readFileSync(new AttachmentStore(dir).pathFor(sha)).equals(bytes), 'the stored file holds the decoded bytes');
      assert.deepEqual(readdirSync(join(dir, 'attachments')).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
      // The same content again: stored once, nothing left over.
      const again = await parseMessage(withAttachment(bytes, 'copy.bin'), { replyLine: '##- reply above -##', sink: fileSink(dir) });
      assert.equal(again.attachments[0]!.sha256, sha);
      assert.deepEqual(readdirSync(join(dir, 'attachments')).sort(), [sha.slice(0, 2)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parser threads stream into the store too; without a store the bytes come back (PostgreSQL)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-att-'));
    const threaded = createMessageParser({ workers: 1, replyLine: '##- reply above -##', attachmentsDir: dir });
    const inMemory = createMessageParser({ workers: 1, replyLine: '##- reply above -##' });
    try {
      const bytes = randomBytes(200_000);
      const sha = createHash('sha256').update(bytes).digest('hex');
      const [a] = (await threaded.parse(withAttachment(bytes))).attachments;
      assert.equal(a!.content, undefined);
      assert.ok(readFileSync(new AttachmentStore(dir).pathFor(sha)).equals(bytes));
      const [b] = (await inMemory.parse(withAttachment(bytes))).attachments;
      assert.equal(b!.sha256, sha);
      assert.ok(Buffer.isBuffer(b!.content) && b!.content.equals(bytes));
    } finally {
      await threaded.close();
      await inMemory.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL (issue 14): parser threads stream attachments into scratch files, hashed on the way, and send no bytes back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-scratch-'));
    const threaded = createMessageParser({ workers: 1, replyLine: '##- reply above -##', scratchDir: dir });
    try {
      const bytes = randomBytes(2 * 1024 * 1024 + 5);
      const [a] = (await threaded.parse(withAttachment(bytes))).attachments;
      assert.equal(a!.content, undefined, 'no bytes through the thread boundary');
      assert.equal(a!.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(a!.size, bytes.length);
      assert.ok(a!.file?.startsWith(dir), `a scratch file in ${dir}: ${a!.file}`);
      assert.ok(readFileSync(a!.file!).equals(bytes), 'the scratch file holds the decoded bytes');
    } finally {
      await threaded.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a parse that fails after an attachment was written leaves no scratch file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-scratch-'));
    try {
      const sink = scratchSink(dir);
      await assert.rejects(parseCleaning(sink, async (s) => {
        await parseMessage(withAttachment(randomBytes(100_000)), { replyLine: '##- reply above -##', sink: s! });
        assert.equal(readdirSync(dir).length, 1, 'the attachment went to a scratch file');
        throw new Error('later step failed');
      }), /later step failed/);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
