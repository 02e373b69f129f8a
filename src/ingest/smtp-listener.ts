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

export interface SmtpListenerOptions {
  listen: ReadonlyArray<{ host: string; port: number }>;
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
  metrics?: Metrics;
}

export interface SmtpListener {
  /** The bound addresses (port 0 in tests is resolved here). */
  addresses(): Array<{ host: string; port: number }>;
  close(): Promise<void>;
  readonly sessions: number;
}

/** A reply text that starts with its own RFC 3463 code, as every reply deskgate writes does. */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
const SHUTTING_DOWN = '4.3.2 Service shutting down, try again later';

/**
 * smtp-server with ENHANCEDSTATUSCODES guesses the enhanced code from the basic one (452 becomes
 * 4.2.2, 450 4.2.1) and writes it in front of the reply text: a text that has its own code keeps
 * it alone. While the server stops, a session ends as soon as it is not in DATA, so a message in
 * transfer is answered and then the client is let go.
 */
class Connection extends SMTPConnection {
  declare _server: Server;

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (typeof data === 'string' && ENHANCED.test(data)) context = false;
    // The library's answer to a command that arrives while it closes (it would say 4.4.2).
    else if (code === 421 && data === 'Server shutting down') { data = SHUTTING_DOWN; context = false; }
    super.send(code, data, context);
    if (this._server.stopping && !this._dataStream && !this._closing) hangUp(this);
  }
}

/** 421 and close. smtp-server would wait up to 5 s for the client to close its side; nothing more is said, so don't. */
function hangUp(c: SMTPConnection): void {
  const socket: Socket = c._socket;
  c.send(421, SHUTTING_DOWN); // send() ends the socket after a 421
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref(); // a client that reads nothing cannot hold the stop
}

class Server extends SMTPServer {
  stopping = false;

  // As SMTPServer.connect, with the Connection above.
  override connect(socket: Socket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new Connection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
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

function receivedLine(session: SMTPServerSession, hostname: string, id: string, rcpt: string): string {
  const helo = (session.hostNameAppearsAs || 'unknown').replace(/[^\x21-\x7e]/g, '');
  const rdns = session.clientHostname && session.clientHostname !== `[${session.remoteAddress}]` ? `${session.clientHostname} ` : '';
  const proto = session.secure ? 'ESMTPS' : 'ESMTP';
  return `Received: from ${helo} (${rdns}[${session.remoteAddress}])\r\n\tby ${hostname} (deskgate) with ${proto} id ${id}\r\n\tfor <${rcpt}>; ${new Date().toUTCString()}\r\n`;
}

/**
 * The MX: thin glue from smtp-server's callbacks to acceptMessage. It accepts RCPT only for
 * support addresses (R5, so never a relay), refuses AUTH, and answers 250 only after the
 * message is durable (R6).
 */
export async function startSmtpListener(opts: SmtpListenerOptions, accept: AcceptMessage, logger: Logger): Promise<SmtpListener> {
  const log = logger.child({ stage: 'ingest', via: 'smtp' });
  let sessions = 0;
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const tls = opts.tls ? { key: readFileSync(opts.tls.key), cert: readFileSync(opts.tls.cert) } : undefined;

  const graceMs = opts.closeTimeoutMs ?? 10_000;
  const makeServer = () => new Server({
    name: opts.hostname,
    banner: 'deskgate', // the library writes "<name> ESMTP" before it
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
        log.info({ event: 'ingest:rejected', remote: session.remoteAddress, reason: 'denylisted' }, 'client refused');
        return cb(smtpError('5.7.1 Client host rejected', 554));
      }
      const fromIp = (perIp.get(session.remoteAddress) ?? 0) + 1;
      if (fromIp > opts.maxSessionsPerIp && !opts.isAllowlisted(session.remoteAddress)) {
        log.info({ event: 'ingest:rejected', remote: session.remoteAddress, reason: 'too_many_sessions' }, 'too many sessions from one address');
        return cb(smtpError('4.7.0 Too many connections from your address, try again later', 421));
      }
      perIp.set(session.remoteAddress, fromIp);
      counted.add(session.id);
      sessions++;
      opts.metrics?.smtpSessions.set(sessions);
      log.debug({ event: 'ingest:connect', session: session.id, remote: session.remoteAddress }, 'connection');
      cb();
    },
    onClose(session) {
      if (!counted.delete(session.id)) return;
      sessions--;
      opts.metrics?.smtpSessions.set(sessions);
      const n = (perIp.get(session.remoteAddress) ?? 1) - 1;
      if (n <= 0) perIp.delete(session.remoteAddress);
      else perIp.set(session.remoteAddress, n);
    },
    onMailFrom(address: SMTPServerAddress, _session, cb) {
      const from = address.address ? normalizeAddress(address.address) : '';
      if (from !== '' && !isPlausibleAddress(from)) return cb(smtpError('5.1.7 Bad sender address syntax', 553));
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
      cb();
    },
    onData(stream: SMTPServerDataStream, session, cb) {
      const to = [...new Set(session.envelope.rcptTo.map((r) => normalizeAddress(r.address)))];
      const from = session.envelope.mailFrom ? normalizeAddress(session.envelope.mailFrom.address) || null : null;
      const id = randomBytes(6).toString('hex');
      accept(stream, { via: 'smtp', from, to, remoteIp: session.remoteAddress, helo: session.hostNameAppearsAs ?? null }, {
        prefix: receivedLine(session, opts.hostname, id, to[0]!),
        smtpChecks: { maxHeaderSize: opts.maxHeaderSize, refuseAfterPerHour: opts.isAllowlisted(session.remoteAddress) ? null : opts.refuseAfterPerHour() },
      })
        .then((result) => {
          if (!isAccepted(result) || stream.sizeExceeded) {
            log.info({ event: 'ingest:rejected', session: session.id, remote: session.remoteAddress, size: result.size, reason: 'too_large' }, 'message too large');
            return cb(smtpError(`5.3.4 Message too big (limit ${opts.maxMessageSize} bytes)`, 552));
          }
          log.info({ event: 'ingest:accepted', session: session.id, remote: session.remoteAddress, intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate, size: result.size }, 'message accepted');
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
          log.error({ event: 'ingest:error', session: session.id, code, err: errorMessage(err) }, 'message not accepted');
          cb(smtpError('4.3.0 Temporary failure storing the message, try again later', 451));
        });
    },
  });

  const servers: Server[] = [];
  const bound: Array<{ host: string; port: number }> = [];
  for (const l of opts.listen) {
    const server = makeServer();
    server.on('error', (err) => log.error({ event: 'ingest:server_error', err: errorMessage(err) }, 'smtp server error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new DeskgateError('INGEST_LISTEN', `cannot listen on ${l.host}:${l.port}: ${err.message}`, { cause: err }));
      server.server.once('error', onError);
      server.listen(l.port, l.host, () => {
        server.server.off('error', onError);
        const addr = server.server.address();
        bound.push({ host: l.host, port: typeof addr === 'object' && addr ? addr.port : l.port });
        resolve();
      });
    });
    servers.push(server);
    log.info({ event: 'ingest:listening', host: l.host, port: bound[bound.length - 1]!.port, starttls: Boolean(tls) }, 'SMTP listening');
  }

  return {
    addresses: () => [...bound],
    get sessions() { return sessions; },
    close: () => Promise.all(servers.map((s) => s.stop(graceMs))).then(() => undefined),
  };
}
