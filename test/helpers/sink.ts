import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface SunkMessage {
  envelopeFrom: string;
  rcpt: string[];
  raw: string;
  mail: ParsedMail;
}

/**
 * A real SMTP server on 127.0.0.1 that plays the smarthost: it records every message, and can
 * be told to answer 451 (try later) or 550 (refused) to test the outbound queue.
 */
export class SmtpSink {
  readonly messages: SunkMessage[] = [];
  mode: 'accept' | 'tempfail' | 'permfail' = 'accept';
  attempts = 0;
  private server: SMTPServer | undefined;
  port = 0;
  /** Recipients refused at RCPT with [code, enhanced status and text], as a remote MX refuses them. */
  readonly refuse = new Map<string, [number, string]>();
  /** Every AUTH XOAUTH2 the sink was offered (with `xoauth2`), and whether it let it in. */
  readonly logins: Array<{ user: string; ok: boolean }> = [];

  /**
   * xoauth2 (R72): the sink then requires AUTH XOAUTH2 and asks this whether a user's token is
   * good, answering a bad one as Exchange does (a 334 challenge, then 535).
   */
  constructor(private readonly opts: { xoauth2?: (user: string, token: string) => boolean } = {}) {}

  async start(port = 0): Promise<this> {
    const xoauth2 = this.opts.xoauth2;
    this.server = new SMTPServer({
      disableReverseLookup: true, logger: false, closeTimeout: 300,
      ...(xoauth2 ? {
        authOptional: false, authMethods: ['XOAUTH2'], allowInsecureAuth: true, disabledCommands: ['STARTTLS'],
        onAuth: (auth: { method: string; username?: string; accessToken?: string }, _session: unknown, cb: (err: Error | null, res?: { user?: string; data?: Record<string, string> }) => void) => {
          const ok = auth.method === 'XOAUTH2' && xoauth2(auth.username ?? '', auth.accessToken ?? '');
          this.logins.push({ user: auth.username ?? '', ok });
          cb(null, ok ? { user: auth.username! } : { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office365.com/.default' } });
        },
      } : { authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'] }),
      onRcptTo: (address, _session, cb) => {
        const refused = this.refuse.get(address.address.toLowerCase());
        cb(refused ? Object.assign(new Error(refused[1]), { responseCode: refused[0] }) : undefined);
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          this.attempts++;
          if (this.mode === 'tempfail') return cb(Object.assign(new Error('4.3.0 Try again later'), { responseCode: 451 }));
          if (this.mode === 'permfail') return cb(Object.assign(new Error('5.7.1 Relaying denied for you'), { responseCode: 550 }));
          const raw = Buffer.concat(chunks);
          simpleParser(raw).then((mail) => {
            this.messages.push({ envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcpt: session.envelope.rcptTo.map((r) => r.address), raw: raw.toString('utf8'), mail });
            cb();
          }, cb);
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  to(address: string): SunkMessage[] {
    return this.messages.filter((m) => m.rcpt.includes(address));
  }

  clear(): void {
    this.messages.length = 0;
    this.attempts = 0;
  }
}
