import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { authenticateMessage, createDnsResolver } from '../../src/trust/index.js';
import { messageIdOf } from '../../src/trust/authenticate.js';
import { createLogger } from '../../src/shared/logger.js';
import { DnsStub } from '../helpers/dns-stub.js';

/** The real logger into memory, parsed line by line as a log collector would. */
function capture() {
  let text = '';
  const logger = createLogger('debug', { stage: 'trust' }, { destination: { write: (s: string) => { text += s; } } });
  return { logger, text: () => text, lines: () => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const BODY_SECRET = 'the-vault-code-is-4711';
const raw = Buffer.from([
  'From: Carol <carol@customer.test>', 'To: support@acme.test', 'Subject: Hello',
  'Message-ID:', ' <auth-log-1@customer.test>', '', `Please open it: ${BODY_SECRET}`, '',
].join('\r\n'));
const session = { ip: '192.0.2.10', helo: 'mail.customer.test', sender: 'carol@customer.test', mta: 'mx.acme.test' };

describe('R44: a check that cannot be done is logged, and is temperror (issue 12)', () => {
  let silent: Socket;
  let stub: DnsStub;
  before(async () => {
    // A DNS server that never answers: every lookup times out.
    silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    stub = await new DnsStub().start();
  });
  after(async () => {
    silent.close();
    await stub.stop();
  });

  it('R44: a DNS timeout is temperror, never a pass, and logged with stage, code, check, message id and reason', async () => {
    const { logger, lines, text } = capture();
    const resolve = createDnsResolver({ servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 200 });
    const out = await authenticateMessage(raw, session, resolve, logger);
    assert.equal(out.spf, 'temperror');
    assert.equal(out.dmarc, 'temperror');
    const failed = lines().filter((l) => l.event === 'trust:check_failed');
    assert.deepEqual(failed.map((l) => l.check).sort(), ['dmarc', 'spf']);
    for (const l of failed) {
      assert.equal(l.stage, 'trust');
      assert.equal(l.code, 'TRUST_TEMPERROR');
      assert.equal(l.level, 40);
      assert.equal(l.message_id, '<auth-log-1@customer.test>');
      assert.match(String(l.reason), /ETIMEOUT|timed out|DNS timeout/i);
    }
    assert.ok(!text().includes(BODY_SECRET), 'the message content is never logged');
  });

  it('R44: answers (none here: the domain publishes nothing) are not failures and log nothing', async () => {
    const { logger, lines } = capture();
    const out = await authenticateMessage(raw, session, createDnsResolver({ servers: [stub.server], timeoutMs: 1000 }), logger);
    assert.equal(out.spf, 'none');
    assert.equal(out.dmarc, 'none');
    assert.deepEqual(lines(), []);
  });

  it('messageIdOf reads a folded Message-ID from the header block only', async () => {
    assert.equal(messageIdOf(raw), '<auth-log-1@customer.test>');
    assert.equal(messageIdOf(Buffer.from('Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n')), null);
  });
});
