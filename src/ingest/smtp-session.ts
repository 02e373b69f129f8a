import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { CLOSE_REPLIES, DataBudget, JunkCounter, dataCheckInterval, pickVictim, type CloseReason, type CutReason, type SessionLimits } from './session-guard.js';

/*
 * smtp-server's server and connection, extended for deskgate's listener (smtp-listener.ts):
 * enhanced status codes, a graceful stop, and the session limits of session-guard.ts.
 */

/** A reply text that starts with its own RFC 3463 code, as every reply deskgate writes does. */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
const SHUTTING_DOWN = '4.3.2 Service shutting down, try again later';

/** What a Server needs to guard its sessions (issue 13.4): the limits, and where to report. */
export interface Guard {
  limits: SessionLimits;
  /** client_allowlist: never evicted to make room (relays hold many sessions by design). */
  isAllowlisted(ip: string): boolean;
  closed(reason: CloseReason, c: SMTPConnection): void;
  refusedFull(c: SMTPConnection): void;
}

/** Sessions cut by a deadline in the middle of DATA: their message's failure is expected, not an error. */
export const cutInData = new WeakMap<SMTPServerSession, CutReason>();

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
export function hangUp(c: SMTPConnection, reply = SHUTTING_DOWN): void {
  const socket: Socket = c._socket;
  c.send(421, reply); // send() ends the socket after a 421
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref(); // a client that reads nothing cannot hold the stop
}

export class Server extends SMTPServer {
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

