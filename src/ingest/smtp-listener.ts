import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { SMTPServerSession, SMTPServerDataStream, SMTPServerAddress } from 'smtp-server';
import type { Logger } from '../shared/logger.js';
import { DeskgateError, errorMessage } from '../shared/errors.js';
import { normalizeAddress, isPlausibleAddress } from '../shared/addresses.js';
import { isAccepted, type AcceptMessage } from './accept-message.js';
import type { Metrics } from '../shared/metrics.js';
import { prepareSocketPath, applySocketAccess, type SocketListen } from './unix-socket.js';
import type { SessionLimits } from './session-guard.js';
import { Server, cutInData, type Guard } from './smtp-session.js';

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
  /** R1/R5/R67: what an envelope recipient is accepted as (a support address, a signed return path), or undefined. */
  recipientOf: (address: string) => string | undefined;
  /** How long a stop (SIGTERM) lets sessions in DATA finish; every other session gets 421 at once. */
  closeTimeoutMs?: number;
  maxHeaderSize: number;
  /** Sessions from one address; allowlisted addresses are exempt (only maxClients bounds them). */
  maxSessionsPerIp: number;
  /** R43: refuse (450) a sender's messages past this many in the last hour (read per message, so a reload applies). */
  refuseAfterPerHour: () => number;
  /** R67: a signed VERP return path. Bounces to it are not refused per sender (R43): one MTA's daemon sends them all. */
  isReturnPath?: (address: string) => boolean;
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

/**
 * LMTP (RFC 2033): one reply after DATA for each RCPT that got a 250, counted per transaction
 * (keyed by the envelope, which smtp-server makes anew for each): smtp-server merges a repeated
 * recipient in rcptTo, though each RCPT was answered 250.
 */
const acceptedRcpts = new WeakMap<object, number>();

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
      if (!opts.recipientOf(rcpt)) {
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
        ...(via === 'lmtp' ? {} : { smtpChecks: { maxHeaderSize: opts.maxHeaderSize, refuseAfterPerHour: opts.isAllowlisted(session.remoteAddress) || to.every((a) => opts.isReturnPath?.(a)) ? null : opts.refuseAfterPerHour() } }),
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
