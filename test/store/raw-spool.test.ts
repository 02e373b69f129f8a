import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { SmtpClient } from '../helpers/smtp.js';
import { mail } from '../helpers/mail.js';
import type { Daemon } from '../../src/daemon.js';

/** Every file under dir, recursively. */
function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/**
 * R6/R8: a large message is spooled to a file while it arrives; when the sender goes away in
 * the middle of DATA nothing names that file, so no half message is left on disk.
 */
describe('raw spool: a message cut in DATA leaves no file', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  after(async () => {
    await d?.stop();
    env?.cleanup();
  });

  it('R6: a client that disconnects after 600 KB of DATA leaves nothing in data_dir/raw; a whole one is kept', async () => {
    env = makeEnv();
    d = await startTestDaemon(env);
    const raw = join(env.config.data_dir, 'raw');
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO cut.test');
    await c.cmd('MAIL FROM:<carol@customer.test>');
    await c.cmd(`RCPT TO:<${SUPPORT}>`);
    assert.match(await c.cmd('DATA'), /^354/);
    const big = mail({ subject: 'Cut short', body: `${'z'.repeat(76)}\n`.repeat(8000) }).toString('binary');
    c.write(Buffer.from(big.slice(0, 600_000), 'binary'));
    // The spool file exists while the message arrives (past the 256 KB kept in memory)…
    await waitFor(() => files(raw).some((f) => statSync(f).size > 300_000), 'the spool file');
    c.destroy();
    // …and is gone once the session is.
    await waitFor(() => files(raw).length === 0, 'the half message to be removed', 5_000);

    const whole = await SmtpClient.connect(d.port);
    await whole.cmd('EHLO whole.test');
    assert.match(await whole.send('carol@customer.test', [SUPPORT], mail({ subject: 'Whole', body: `${'w'.repeat(76)}\n`.repeat(8000) })), /^250/);
    await whole.quit();
    assert.equal(files(raw).length, 1, 'the acknowledged large message keeps its file');
  });
});
