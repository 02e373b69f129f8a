import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT } from '../helpers/env.js';
import { startTestDaemon, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';

// Issue 15: a backlog past processing.backlog_high_water defers new mail instead of growing without bound.
describe('processing.backlog_high_water', () => {
  it('past the mark MAIL FROM is answered 451 4.3.2, metrics and stats say so, and mail is accepted again once the backlog drains', async () => {
    const env = makeEnv((c) => {
      Object.assign(c.processing as Record<string, unknown>, { workers: 0, backlog_high_water: 100 });
      c.metrics = { listen: '127.0.0.1:0' };
    });
    const d = await startTestDaemon(env);
    const c = await SmtpClient.connect(d.port);
    try {
      await d.app.processor.stop(); // nothing is processed: the backlog only grows
      await c.cmd('EHLO client.test');
      for (let i = 0; i < 100; i++) assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: uniqueId('bl') })), /^250 /);
      const refused = await c.cmd('MAIL FROM:<carol@customer.test>');
      assert.match(refused, /^451 4\.3\.2 /, 'deferred before any data is sent');
      const metrics = await (await fetch(`http://127.0.0.1:${d.metricsPort}/metrics`)).text();
      assert.match(metrics, /^deskgate_intake_backlog_full 1$/m);
      assert.match(metrics, /^deskgate_intake_high_water 100$/m);
      assert.match(metrics, /^deskgate_messages_rejected_total\{reason="backlog"\} 1$/m);
      const stats = await cliJson(['stats', '-c', env.configPath]);
      assert.equal(stats.intake_queue, 100);
      assert.equal(stats.intake_high_water, 100);
      d.app.processor.start();
      await waitFor(async () => (await d.app.intake.pendingCount()) === 0, 'the backlog drained', 20_000);
      await waitFor(() => !d.app.backlog.full, 'the gate sees it (read every 0.5 s)', 5000);
      assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: uniqueId('bl-after') })), /^250 /);
    } finally {
      await c.quit();
      await d.stop();
      env.cleanup();
    }
  });
});
