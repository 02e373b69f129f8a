/**
 * Limits that stop SMTP sessions from holding a max_clients slot without delivering mail
 * (issue 13.4). smtp-server's socketTimeout measures idle time only, so a NOOP every few seconds
 * or DATA trickled a byte at a time would keep a slot for as long as the client likes. The
 * decisions live here, free of sockets; smtp-listener.ts applies them to its connections.
 *
 * - A whole-session deadline (session_timeout) bounds every session, whatever it sends.
 * - DATA runs on a budget, as Postfix's smtpd_min_data_rate does: it starts at data_timeout,
 *   time spends it and every byte received earns 1/data_min_rate s back, never above
 *   data_timeout. A client that keeps up with the rate never runs out, however large its
 *   message; one that stalls or trickles below it is cut within about data_timeout.
 *   data_min_rate 0 makes data_timeout a hard limit on the whole DATA.
 * - Junk commands (Postfix's smtpd_junk_command_limit: NOOP, VRFY, ETRN, RSET; here HELP,
 *   EXPN and unrecognised commands too) are counted per session and the count starts again
 *   after a delivered message, so a relay that sends RSET between messages is never cut.
 * - When max_clients is full, the address holding the most sessions gives up its newest idle
 *   one to the newcomer (pickVictim).
 */

export interface SessionLimits {
  sessionTimeoutMs: number;
  dataTimeoutMs: number;
  /** Bytes per second; 0: no credit, data_timeout is a hard deadline. */
  dataMinRate: number;
  junkCommandLimit: number;
}

/** Why deskgate ended a session itself: the `reason` label of deskgate_smtp_sessions_closed_total. */
export type CloseReason = 'session_timeout' | 'data_timeout' | 'junk_commands' | 'evicted' | 'idle_timeout';

/** The reasons deskgate ends a session itself (the idle timeout is smtp-server's). */
export type CutReason = Exclude<CloseReason, 'idle_timeout'>;

/** The 421 replies, each with its own RFC 3463 code (4.4.2: timeout; 4.7.0: policy). */
export const CLOSE_REPLIES: Record<CutReason, string> = {
  session_timeout: '4.4.2 Session time limit exceeded, closing connection',
  data_timeout: '4.4.2 Message data arrived too slowly, closing connection',
  junk_commands: '4.7.0 Too many commands without mail, closing connection',
  evicted: '4.7.0 Too many connections from your address, closing this one to let another client in',
};

const JUNK = new Set(['NOOP', 'RSET', 'VRFY', 'HELP', 'ETRN', 'EXPN']);

/** Counts junk commands for one session. */
export class JunkCounter {
  private count = 0;
  constructor(private readonly limit: number) {}

  /** `known`: the server has a handler for the command. True when this command is one past the limit. */
  exceeded(commandName: string, known: boolean): boolean {
    if (known && !JUNK.has(commandName)) return false;
    this.count++;
    return this.count > this.limit;
  }

  delivered(): void {
    this.count = 0;
  }
}

/** The DATA budget described above; `now` and byte counts come from the caller, so it is pure. */
export class DataBudget {
  private remainingMs: number;
  private lastAt: number;
  private lastBytes = 0;

  constructor(private readonly limits: Pick<SessionLimits, 'dataTimeoutMs' | 'dataMinRate'>, now: number) {
    this.remainingMs = limits.dataTimeoutMs;
    this.lastAt = now;
  }

  /** Takes the bytes received so far; false once the budget is spent. */
  update(bytesSoFar: number, now: number): boolean {
    const earned = this.limits.dataMinRate > 0 ? ((bytesSoFar - this.lastBytes) * 1000) / this.limits.dataMinRate : 0;
    const cap = this.limits.dataMinRate > 0 ? this.limits.dataTimeoutMs : Infinity;
    this.remainingMs = Math.min(cap, this.remainingMs - (now - this.lastAt) + earned);
    this.lastAt = now;
    this.lastBytes = bytesSoFar;
    return this.remainingMs > 0;
  }
}

/** How often a DATA transfer's budget is checked: often enough that a cut comes within ~10% of data_timeout. */
export function dataCheckInterval(dataTimeoutMs: number): number {
  return Math.max(20, Math.min(1000, Math.floor(dataTimeoutMs / 10)));
}

export interface SessionView {
  remoteAddress: string;
  /** Not in DATA and not waiting for a reply deskgate owes: closing it loses nothing in flight. */
  idle: boolean;
}

/**
 * Which session to close so a client from `newcomer` can have a slot of a full server: the
 * newest idle session of the address that holds the most sessions, when that address holds at
 * least two more than the newcomer's (so the swap leaves it no worse off than the newcomer,
 * and an address is never swapped for itself). `sessions` are in connection order; exempt
 * addresses (client_allowlist: relays) are never chosen. Undefined: refuse the newcomer.
 */
export function pickVictim<S extends SessionView>(sessions: readonly S[], newcomer: string, exempt: (ip: string) => boolean): S | undefined {
  const perIp = new Map<string, number>();
  for (const s of sessions) perIp.set(s.remoteAddress, (perIp.get(s.remoteAddress) ?? 0) + 1);
  let heavy: string | undefined;
  let most = 0;
  for (const [ip, n] of perIp) if (n > most && ip !== newcomer && !exempt(ip)) { heavy = ip; most = n; }
  if (heavy === undefined || most < (perIp.get(newcomer) ?? 0) + 2) return undefined;
  for (let i = sessions.length - 1; i >= 0; i--) {
    const s = sessions[i]!;
    if (s.remoteAddress === heavy && s.idle) return s;
  }
  return undefined;
}
