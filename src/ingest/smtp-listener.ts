import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerSession, type SMTPServerDataStream, type SMTPServerAddress } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { Logger } from '../shared/logger.js';
import { DeskgateError, errorMessage } from '../shared/errors.js';
import { normalizeAddress, isPlausibleAddress } from '../shared/addresses.js';
import { isAccepted, type AcceptMessage } from './accept-message.js';
import type { Metrics } from '../shared/metrics.js';
import { prepareSocketPath, applySocketAccess, type SocketListen } from './unix-socket.js';
import { CLOSE_REPLIES, DataBudget, JunkCounter, dataCheckInterval, pickVictim, type CloseReason, type CutReason, type SessionLimits } from './session-guard.js';

export interface SmtpListenerOptions {
  /** TCP addresses, and (LMTP) Unix sockets. */
  listen: ReadonlyArray<{ host: string; port: number } | SocketListen>;
  /** R73: LMTP (LHLO, one reply per recipient after DATA) instead of SMTP; mail is `via: lmtp`. */
  lmtp?: boolean;
  hostname: string;
  maxMessageSize: number;
  maxClients: number;
  maxRecipients: number;
  socketTimeoutMs: number;
  reverseLookup: boolean;
  tls?: { key: string; cert: string } | undefined;
  /** R1/R5: the support address an envelope recipient stands for, or undefined. */
  supportAddressOf: (address: string) => string | undefined;
  /** How long a stop (SIGTERM) lets sessions in DATA finish; every other session gets 421 at once. */
  closeTimeoutMs?: number;
  maxHeaderSize: number;
  /** Sessions from one address; allowlisted addresses are exempt (only maxClients bounds them). */
  maxSessionsPerIp: number;
  /** R43: refuse (450) a sender's messages past this many in the last hour (read per message, so a reload applies). */
  refuseAfterPerHour: () => number;
  isAllowlisted: (ip: string) => boolean;
  isDenylisted: (ip: string) => boolean;
  /** Session deadlines and the junk command limit (session-guard.ts); they apply to allowlisted clients too. */
  limits: SessionLimits;
  metrics?: Metrics;
  /** processing.backlog_high_water: while more mail waits to be processed, new mail gets 451 4.3.2. */
  backlogFull?: () => boolean;
}

export interface SmtpListener {
  /** The bound TCP addresses (port 0 in tests is resolved here). */
  addresses(): Array<{ host: string; port: number }>;
  /** The Unix sockets listened on. */
  sockets(): string[];
  close(): Promise<void>;
  readonly sessions: number;
}

/** A reply text that starts with its own RFC 3463 code, as every reply deskgate writes does. */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
const SHUTTING_DOWN = '4.3.2 Service shutting down, try again later';

/** What a Server needs to guard its sessions (issue 13.4): the limits, and where to report. */
interface Guard {
  limits: SessionLimits;
  /** client_allowlist: never evicted to make room (relays hold many sessions by design). */
  isAllowlisted(ip: string): boolean;
  closed(reason: CloseReason, c: SMTPConnection): void;
  refusedFull(c: SMTPConnection): void;
}

/** Sessions cut by a deadline in the middle of DATA: their message's failure is expected, not an error. */
const cutInData = new WeakMap<SMTPServerSession, CutReason>();
/**
 * LMTP (RFC 2033): one reply after DATA for each RCPT that got a 250, counted per transaction
 * (keyed by the envelope, which smtp-server makes anew for each): smtp-server merges a repeated
 * recipient in rcptTo, though each RCPT was answered 250.
 */
const acceptedRcpts = new WeakMap<object, number>();

const FULL = 'Too many connected clients, try again in a moment'; // the library's text, after its host name

/**
 * smtp-server with ENHANCEDSTATUSCODES guesses the enhanced code from the basic one (452 becomes
 * 4.2.2, 450 4.2.1) and writes it in front of the reply text: a text that has its own code keeps
 * it alone. While the server stops, a session ends as soon as it is not in DATA, so a message in
 * transfer is answered and then the client is let go. The session limits of session-guard.ts
 * are applied here: a deadline that passes while deskgate stores a message waits for its reply
 * (so a 250 is never lost), one that passes during the transfer cuts it (421, nothing stored).
 */
class Connection extends SMTPConnection {
  declare _server: Server;
  private junk!: JunkCounter; // set in init(), before any command can arrive
  private sessionTimer: NodeJS.Timeout | undefined;
  private dataTimer: NodeJS.Timeout | undefined;
  /** A deadline passed while a reply was owed: end the session right after that reply. */
  private endAfterReply: CutReason | undefined;

  override init(): void {
    this.junk = new JunkCounter(this._server.guard.limits.junkCommandLimit);
    this.sessionTimer = setTimeout(() => this.cut('session_timeout'), this._server.guard.limits.sessionTimeoutMs);
    this.sessionTimer.unref();
    super.init();
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (code === 250 && context === 'DATA_OK') this.junk.delivered();
    if (typeof data === 'string' && ENHANCED.test(data)) context = false;
    // The library's answer to a command that arrives while it closes (it would say 4.4.2).
    else if (code === 421 && data === 'Server shutting down') { data = SHUTTING_DOWN; context = false; }
    else if (code === 421 && typeof data === 'string' && data.endsWith(FULL)) { this._server.guard.refusedFull(this); data = `4.3.2 ${data}`; context = false; }
    else if (code === 421 && data === 'Timeout - closing connection') this._server.guard.closed('idle_timeout', this);
    super.send(code, data, context);
    if (this._closing || this._dataStream) return;
    if (this._server.stopping) hangUp(this);
    else if (this.endAfterReply) this.end(this.endAfterReply);
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    if (this._ready && !this._upgrading && !this._nextHandler && !this._closing && !this._server.stopping) {
      const name = (command || '').toString().split(' ')[0]!.toUpperCase();
      if (this.junk.exceeded(name, this._isSupported(name))) return this.end('junk_commands');
    }
    super._onCommand(command, callback);
  }

  override handler_DATA(command: Buffer, callback: () => void): void {
    super.handler_DATA(command, callback);
    if (this._dataStream && this._parser) this.watchData();
  }

  override _onClose(): void {
    clearTimeout(this.sessionTimer);
    clearInterval(this.dataTimer);
    super._onClose();
  }

  /** Not in DATA and owing no reply: closing it loses nothing in flight. */
  get idle(): boolean {
    return this._ready && !this._closing && !this._dataStream && !this._handlerPending && !this._upgrading;
  }

  /** Closed to make room for a client from another address (pickVictim). */
  evict(): void {
    this.end('evicted');
  }

  /** Checks the DATA budget (session-guard.ts) until the message is in; then the reply is owed and nothing is cut. */
  private watchData(): void {
    clearInterval(this.dataTimer);
    const limits = this._server.guard.limits;
    const budget = new DataBudget(limits, Date.now());
    this.dataTimer = setInterval(() => {
      const parser = this._parser;
      if (!parser || !parser._dataMode || this._closing) return clearInterval(this.dataTimer);
      if (!budget.update(parser.dataBytes, Date.now())) { clearInterval(this.dataTimer); this.cut('data_timeout'); }
    }, dataCheckInterval(limits.dataTimeoutMs));
    this.dataTimer.unref();
  }

  /** A deadline: a message already received is answered first; one in transfer is cut (the client retries it). */
  private cut(reason: CutReason): void {
    if (this._closing) return;
    const receiving = this._dataStream && this._parser && this._parser._dataMode;
    if (this._dataStream && !receiving) { this.endAfterReply ??= reason; return; }
    if (receiving) cutInData.set(this.session, reason);
    this.end(reason);
  }

  private end(reason: CutReason): void {
    if (this._closing) return;
    this._server.guard.closed(reason, this);
    hangUp(this, CLOSE_REPLIES[reason]);
  }
}

/** 421 and close. smtp-server would wait up to 5 s for the client to close its side; nothing more is said, so don't. */
function hangUp(c: SMTPConnection, reply = SHUTTING_DOWN): void {
  const socket: Socket = c._socket;
  c.send(421, reply); // send() ends the socket after a 421
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref(); // a client that reads nothing cannot hold the stop
}

class Server extends SMTPServer {
  stopping = false;
  declare guard: Guard;

  // As SMTPServer.connect, with the Connection above; a full server first tries to make room.
  override connect(socket: Socket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new Connection(this, socket, socketOptions);
    if (this.options.maxClients && this.connections.size >= this.options.maxClients) this.makeRoom(connection.remoteAddress);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }

  private makeRoom(newcomer: string): void {
    const sessions = [...this.connections].filter((c): c is Connection => c instanceof Connection && !c._closing)
      .map((c) => ({ remoteAddress: c.remoteAddress, idle: c.idle, c }));
    pickVictim(sessions, newcomer, (ip) => this.guard.isAllowlisted(ip))?.c.evict();
  }

  /** Stops listening, lets sessions in DATA finish for graceMs, ends all others now; resolves when every socket is gone. */
  stop(graceMs: number): Promise<void> {
    this.stopping = true;
    return new Promise((resolve) => {
      const late = setTimeout(() => { for (const c of [...this.connections]) hangUp(c); }, graceMs);
      this.close(() => { clearTimeout(late); resolve(); });
      for (const c of [...this.connections]) if (!c._dataStream) hangUp(c);
    });
  }
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

function receivedLine(session: SMTPServerSession, hostname: string, id: string, rcpt: string, lmtp: boolean): string {
  const helo = (session.hostNameAppearsAs || 'unknown').replace(/[^\x21-\x7e]/g, '');
  const rdns = session.clientHostname && session.clientHostname !== `[${session.remoteAddress}]` ? `${session.clientHostname} ` : '';
  const proto = lmtp ? 'LMTP' : session.secure ? 'ESMTPS' : 'ESMTP';
  // A Unix socket client has no address: say so, as Postfix and Dovecot do.
  const from = session.remoteAddress ? `[${session.remoteAddress}]` : 'local';
  return `Received: from ${helo} (${rdns}${from})\r\n\tby ${hostname} (deskgate) with ${proto} id ${id}\r\n\tfor <${rcpt}>; ${new Date().toUTCString()}\r\n`;
}

/**
 * The MX: thin glue from smtp-server's callbacks to acceptMessage. It accepts RCPT only for
 * support addresses (R5, so never a relay), refuses AUTH, and answers 250 only after the
 * message is durable (R6).
 */
export async function startSmtpListener(opts: SmtpListenerOptions, accept: AcceptMessage, logger: Logger): Promise<SmtpListener> {
  const via = opts.lmtp ? 'lmtp' : 'smtp';
  const log = logger.child({ stage: 'ingest', via });
  let sessions = 0;
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const tls = opts.tls ? { key: readFileSync(opts.tls.key), cert: readFileSync(opts.tls.cert) } : undefined;

  const graceMs = opts.closeTimeoutMs ?? 10_000;
  const refused = (reason: string, remote: string, msg: string) => {
    log.info({ event: 'ingest:rejected', remote, reason }, msg);
    opts.metrics?.smtpRefused.inc({ reason });
  };
  const guard: Guard = {
    limits: opts.limits,
    isAllowlisted: opts.isAllowlisted,
    closed(reason, c) {
      log.info({ event: 'ingest:session_closed', session: c.session.id, remote: c.remoteAddress, reason }, 'session ended by deskgate');
      opts.metrics?.smtpClosed.inc({ reason });
    },
    refusedFull: (c) => refused('max_clients', c.remoteAddress, 'server full (smtp.max_clients)'),
  };
  const makeServer = () => Object.assign(new Server({
    name: opts.hostname,
    banner: 'deskgate', // the library writes "<name> ESMTP" (or LMTP) before it
    lmtp: opts.lmtp ?? false,
    hideENHANCEDSTATUSCODES: false,
    size: opts.maxMessageSize,
    maxClients: opts.maxClients,
    socketTimeout: opts.socketTimeoutMs,
    // Server.stop() ends the sessions itself at graceMs; the library's own 421 is only a backstop.
    closeTimeout: graceMs + 1000,
    disableReverseLookup: !opts.reverseLookup,
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls ? { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' as const } : {}),
    logger: false,
    onConnect(session, cb) {
      if (opts.isDenylisted(session.remoteAddress)) {
        refused('denylisted', session.remoteAddress, 'client refused');
        return cb(smtpError('5.7.1 Client host rejected', 554));
      }
      const fromIp = (perIp.get(session.remoteAddress) ?? 0) + 1;
      if (fromIp > opts.maxSessionsPerIp && !opts.isAllowlisted(session.remoteAddress)) {
        refused('too_many_sessions', session.remoteAddress, 'too many sessions from one address');
        return cb(smtpError('4.7.0 Too many connections from your address, try again later', 421));
      }
      perIp.set(session.remoteAddress, fromIp);
      counted.add(session.id);
      sessions++;
      if (via === 'smtp') opts.metrics?.smtpSessions.set(sessions);
      log.debug({ event: 'ingest:connect', session: session.id, remote: session.remoteAddress }, 'connection');
      cb();
    },
    onClose(session) {
      if (!counted.delete(session.id)) return;
      sessions--;
      if (via === 'smtp') opts.metrics?.smtpSessions.set(sessions);
      const n = (perIp.get(session.remoteAddress) ?? 1) - 1;
      if (n <= 0) perIp.delete(session.remoteAddress);
      else perIp.set(session.remoteAddress, n);
    },
    onMailFrom(address: SMTPServerAddress, _session, cb) {
      const from = address.address ? normalizeAddress(address.address) : '';
      if (from !== '' && !isPlausibleAddress(from)) return cb(smtpError('5.1.7 Bad sender address syntax', 553));
      // Before the client sends anything big: the sending MTA keeps the mail and tries again.
      if (opts.backlogFull?.()) {
        opts.metrics?.rejected.inc({ reason: 'backlog' });
        return cb(smtpError('4.3.2 Too much mail waiting to be processed here, try again later', 451));
      }
      cb();
    },
    onRcptTo(address: SMTPServerAddress, session, cb) {
      const rcpt = normalizeAddress(address.address);
      if (!opts.supportAddressOf(rcpt)) {
        log.info({ event: 'ingest:rejected', session: session.id, remote: session.remoteAddress, rcpt, reason: 'unknown_recipient' }, 'recipient refused');
        opts.metrics?.rejected.inc({ reason: 'unknown_recipient' });
        return cb(smtpError('5.1.1 Mailbox unavailable: not a support address here', 550));
      }
      if (session.envelope.rcptTo.length >= opts.maxRecipients) return cb(smtpError('4.5.3 Too many recipients', 452));
      acceptedRcpts.set(session.envelope, (acceptedRcpts.get(session.envelope) ?? 0) + 1);
      cb();
    },
    onData(stream: SMTPServerDataStream, session, smtpCb) {
      // LMTP: the same answer once per accepted RCPT (see acceptedRcpts); SMTP: one answer.
      const replies = acceptedRcpts.get(session.envelope) ?? session.envelope.rcptTo.length;
      const cb = (err: Error | null, message?: string) => (via === 'lmtp'
        ? smtpCb(null, Array.from({ length: replies }, () => err ?? message ?? 'OK') as never)
        : err ? smtpCb(err) : smtpCb(null, message));
      const to = [...new Set(session.envelope.rcptTo.map((r) => normalizeAddress(r.address)))];
      const from = session.envelope.mailFrom ? normalizeAddress(session.envelope.mailFrom.address) || null : null;
      const id = randomBytes(6).toString('hex');
      accept(stream, { via, from, to, remoteIp: session.remoteAddress || null, helo: session.hostNameAppearsAs ?? null }, {
        prefix: receivedLine(session, opts.hostname, id, to[0]!, via === 'lmtp'),
        // LMTP: the MTA in front accepted the mail already and made SMTP's checks (R73).
        ...(via === 'lmtp' ? {} : { smtpChecks: { maxHeaderSize: opts.maxHeaderSize, refuseAfterPerHour: opts.isAllowlisted(session.remoteAddress) ? null : opts.refuseAfterPerHour() } }),
      })
        .then((result) => {
          if (!isAccepted(result) || stream.sizeExceeded) {
            log.info({ event: 'ingest:rejected', session: session.id, remote: session.remoteAddress, size: result.size, reason: 'too_large' }, 'message too large');
            return cb(smtpError(`5.3.4 Message too big (limit ${opts.maxMessageSize} bytes)`, 552));
          }
          log.info({ event: 'ingest:accepted', session: session.id, remote: session.remoteAddress, intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate, size: result.size }, 'message accepted');
          // LMTP: smtp-server gives each accepted recipient this reply; one stored message serves them all (R7).
          cb(null, `2.0.0 Ok: queued as ${result.intakeId}${result.duplicate ? ' (duplicate)' : ''}`);
        })
        .catch((err: unknown) => {
          stream.resume(); // keep the session in a sane state whatever failed
          // Refusals (R43, R45) carry their own reply; storage failures are temporary (451).
          const refusal = err instanceof DeskgateError && err.smtpCode !== undefined && err.smtpCode !== 451;
          const code = err instanceof DeskgateError ? err.code : 'INGEST_ERROR';
          if (refusal) {
            log.info({ event: 'ingest:rejected', session: session.id, remote: session.remoteAddress, reason: code }, errorMessage(err));
            return cb(smtpError(errorMessage(err), (err as DeskgateError).smtpCode!));
          }
          const cut = cutInData.get(session);
          if (cut) log.info({ event: 'ingest:rejected', session: session.id, remote: session.remoteAddress, reason: cut }, 'message cut off in DATA by a session limit; nothing stored');
          else log.error({ event: 'ingest:error', session: session.id, code, err: errorMessage(err) }, 'message not accepted');
          cb(smtpError('4.3.0 Temporary failure storing the message, try again later', 451));
        });
    },
  }), { guard });

  const servers: Server[] = [];
  const bound: Array<{ host: string; port: number }> = [];
  const sockets: string[] = [];
  try {
    await listenAll();
  } catch (err) {
    // One entry that cannot listen: the others started before it are closed, or they would keep the process alive.
    await Promise.all(servers.map((s) => s.stop(0)));
    throw err;
  }
  async function listenAll(): Promise<void> {
    for (const l of opts.listen) {
      const server = makeServer();
      server.on('error', (err) => log.error({ event: 'ingest:server_error', err: errorMessage(err) }, `${via} server error`));
      const where = 'path' in l ? l.path : `${l.host}:${l.port}`;
      if ('path' in l) await prepareSocketPath(l.path);
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(new DeskgateError('INGEST_LISTEN', `cannot listen on ${where}: ${err.message}`, { cause: err }));
        server.server.once('error', onError);
        const ready = () => {
          server.server.off('error', onError);
          if (!('path' in l)) {
            const addr = server.server.address();
            bound.push({ host: l.host, port: typeof addr === 'object' && addr ? addr.port : l.port });
          }
          resolve();
        };
        if ('path' in l) server.listen(l.path, ready);
        else server.listen(l.port, l.host, ready);
      });
      servers.push(server);
      if ('path' in l) {
        await applySocketAccess(l);
        sockets.push(l.path);
        log.info({ event: 'ingest:listening', path: l.path, mode: l.mode, lmtp: via === 'lmtp' }, `${via.toUpperCase()} listening`);
      } else {
        log.info({ event: 'ingest:listening', host: l.host, port: bound[bound.length - 1]!.port, starttls: Boolean(tls), lmtp: via === 'lmtp' }, `${via.toUpperCase()} listening`);
      }
    }
  }

  return {
    addresses: () => [...bound],
    sockets: () => [...sockets],
    get sessions() { return sessions; },
    close: () => Promise.all(servers.map((s) => s.stop(graceMs))).then(() => undefined),
  };
}
