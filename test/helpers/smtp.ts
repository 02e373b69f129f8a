import { createConnection, type Socket } from 'node:net';

/**
 * A small SMTP client over a real socket that exposes every reply code, so tests can assert
 * 250/550/552 exactly (nodemailer hides some of them behind its own errors).
 */
export class SmtpClient {
  private buffer = '';
  private waiters: Array<(line: string) => void> = [];
  private lines: string[] = [];
  private closed = false;
  /** Every line of each complete reply, in order (reply() consumes only the last line of each). */
  private full: string[][] = [];
  private partial: string[] = [];
  /** The 220 greeting as the server sent it. */
  greeting = '';
  /** Resolves when the server (or the client) has closed the socket. */
  readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w('closed');
    });
    socket.on('data', (d: string) => {
      this.buffer += d;
      let i;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        // Multi-line replies: only the last line (code + space) completes a reply.
        if (/^\d{3}-/.test(line)) this.partial.push(line);
        if (/^\d{3} /.test(line) || !/^\d{3}-/.test(line)) {
          this.full.push([...this.partial.splice(0), line]);
          const w = this.waiters.shift();
          if (w) w(line); else this.lines.push(line);
        }
      }
    });
  }

  /** `localAddress` (e.g. 127.0.0.2: all of 127/8 is loopback on Linux) lets a test speak from several client addresses. */
  static async connect(port: number, host = '127.0.0.1', opts: { localAddress?: string } = {}): Promise<SmtpClient> {
    const socket = createConnection({ port, host, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    socket.setTimeout(15_000, () => socket.destroy(new Error('SMTP test client timeout')));
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const c = new SmtpClient(socket);
    socket.on('error', () => {});
    const greeting = await c.reply();
    if (!greeting.startsWith('220')) throw new Error(`bad greeting: ${greeting}`);
    c.greeting = greeting;
    return c;
  }

  /** connect() over a Unix socket (LMTP, R73). */
  static async connectPath(path: string): Promise<SmtpClient> {
    const socket = createConnection({ path });
    socket.setTimeout(15_000, () => socket.destroy(new Error('SMTP test client timeout')));
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const c = new SmtpClient(socket);
    socket.on('error', () => {});
    c.greeting = await c.reply();
    if (!c.greeting.startsWith('220')) throw new Error(`bad greeting: ${c.greeting}`);
    return c;
  }

  /** Like connect(), but returns whatever the first reply is (e.g. a 421 refusal) in `greeting`. */
  static async open(port: number, opts: { localAddress?: string } = {}): Promise<SmtpClient> {
    const socket = createConnection({ port, host: '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    socket.setTimeout(15_000, () => socket.destroy(new Error('SMTP test client timeout')));
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const c = new SmtpClient(socket);
    socket.on('error', () => {});
    c.greeting = await c.reply();
    return c;
  }

  /** All lines of the replies completed so far and not yet taken here (e.g. an EHLO's extension list). */
  takeFullReplies(): string[][] {
    return this.full.splice(0);
  }

  /** Writes raw bytes without waiting for a reply (e.g. half a message in DATA). */
  write(raw: string | Buffer): void {
    this.socket.write(raw);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  reply(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve('closed');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no SMTP reply in 15 s')), 15_000);
      this.waiters.push((line) => { clearTimeout(timer); resolve(line); });
    });
  }

  async cmd(line: string): Promise<string> {
    this.socket.write(line + '\r\n');
    return this.reply();
  }

  /** LMTP (R73): sends DATA and returns one reply per accepted recipient (or the refusal of DATA). */
  async lmtpData(raw: Buffer | string, recipients: number): Promise<string[]> {
    const r = await this.cmd('DATA');
    if (!r.startsWith('354')) return [r];
    const text = (Buffer.isBuffer(raw) ? raw.toString('binary') : raw).replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(Buffer.from(text + (text.endsWith('\r\n') ? '' : '\r\n') + '.\r\n', 'binary'));
    const replies: string[] = [];
    for (let i = 0; i < recipients; i++) replies.push(await this.reply());
    return replies;
  }

  /** Sends DATA with dot-stuffing; returns the final reply to the message. */
  async data(raw: Buffer | string): Promise<string> {
    const r = await this.cmd('DATA');
    if (!r.startsWith('354')) return r;
    const text = (Buffer.isBuffer(raw) ? raw.toString('binary') : raw).replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(Buffer.from(text + (text.endsWith('\r\n') ? '' : '\r\n') + '.\r\n', 'binary'));
    return this.reply();
  }

  async send(from: string, to: string[], raw: Buffer | string): Promise<string> {
    const m = await this.cmd(`MAIL FROM:<${from}>`);
    if (!m.startsWith('250')) return m;
    const accepted: string[] = [];
    for (const r of to) {
      const reply = await this.cmd(`RCPT TO:<${r}>`);
      if (reply.startsWith('250')) accepted.push(r);
      else if (to.length === 1) return reply;
    }
    if (accepted.length === 0) return '554 no valid recipients';
    return this.data(raw);
  }

  async quit(): Promise<void> {
    try { await this.cmd('QUIT'); } catch { /* closed */ }
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One message in one session: EHLO, MAIL, RCPT, DATA, QUIT. Returns the DATA (or refusal) reply. */
export async function sendMail(port: number, rcpts: string | string[], raw: Buffer | string, from = 'carol@customer.test'): Promise<string> {
  const c = await SmtpClient.connect(port);
  try {
    await c.cmd('EHLO client.test');
    return await c.send(from, Array.isArray(rcpts) ? rcpts : [rcpts], raw);
  } finally {
    await c.quit();
  }
}
