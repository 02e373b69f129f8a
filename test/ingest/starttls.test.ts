import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { makeEnv, waitFor, SUPPORT } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { SmtpClient } from '../helpers/smtp.js';
import { mail, uniqueId } from '../helpers/mail.js';

describe('STARTTLS', () => {
  it('is offered with a configured certificate, refuses TLS 1.1, and mail sent over TLS is stored', async () => {
    const env = makeEnv();
    const key = join(env.dir, 'key.pem');
    const cert = join(env.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=mx.acme.test'], { stdio: 'ignore' });
    const tlsEnv = makeEnv((c) => { (c.smtp as Record<string, unknown>).tls = { key, cert }; });
    const d = await startTestDaemon(tlsEnv);
    try {
      const c = await SmtpClient.connect(d.port);
      const ehlo = await new Promise<string>((resolve) => {
        let all = '';
        const s = (c as unknown as { socket: import('node:net').Socket }).socket;
        s.on('data', (b: Buffer | string) => { all += b.toString(); if (/^250 /m.test(all)) resolve(all); });
        s.write('EHLO tls.test\r\n');
      });
      assert.match(ehlo, /STARTTLS/);
      c.destroy();
      const old = nodemailer.createTransport({ host: '127.0.0.1', port: d.port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' } });
      await assert.rejects(old.sendMail({ envelope: { from: 'carol@customer.test', to: [SUPPORT] }, raw: mail() }));
      const id = uniqueId('tls');
      const modern = nodemailer.createTransport({ host: '127.0.0.1', port: d.port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false } });
      const info = await modern.sendMail({ envelope: { from: 'carol@customer.test', to: [SUPPORT] }, raw: mail({ messageId: id }) });
      assert.match(info.response, /^250 /);
      await waitFor(async () => (await d.app.sql.get('SELECT 1 FROM comments WHERE message_id = ?', [id])), 'stored');
      const raw = (await d.app.intake.rawBytes((await d.app.sql.value('SELECT id FROM intake WHERE message_id = ?', [id])) as number))!.toString();
      assert.match(raw, /with ESMTPS/, 'the Received line records TLS');
    } finally {
      await d.stop();
      tlsEnv.cleanup();
      env.cleanup();
    }
  });
});
