import { ImapFlow } from 'imapflow';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import type { ImapStateRepo, SqlLock } from '../store/index.js';
import { errorCode, errorMessage } from '../shared/errors.js';
import { normalizeAddress } from '../shared/addresses.js';
import { isAccepted, type AcceptMessage } from './accept-message.js';
import { recipientsFromHeaders } from './recipients.js';
import { accountKey, imapLogin, loginFailure, type ImapAuth } from './imap-account.js';
import { createWaker } from '../shared/waker.js';
import { TokenSource, type OAuth2Settings, type TokenStatus, type RefreshTokenStore } from '../shared/oauth2.js';
import type { Metrics } from '../shared/metrics.js';

export interface ImapAccount {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  /** A password, or oauth2 (R72): one of the two (the config schema checks). */
  pass?: string | undefined;
  oauth2?: OAuth2Settings | undefined;
  mailbox: string;
  processed_mailbox?: string | undefined;
  poll_interval: number;
  idle: boolean;
  address?: string | undefined;
}

export interface ImapPollerDeps {
  accept: AcceptMessage;
  /** R72: where a rotated refresh token is kept across restarts. */
  refreshTokens?: (s: OAuth2Settings) => RefreshTokenStore;
  /** R1/R67: the support address (or signed return path) a header recipient stands for, or undefined. */
  recipientOf: (address: string) => string | undefined;
  /** The support address for polled mail that names none (the account's address, R1). */
  defaultRecipient: string;
  state: ImapStateRepo;
  logger: Logger;
  clock: Clock;
  /** Test hook: runs after a message is durably stored and before it is marked on the server. */
  afterAccept?: (uid: number) => Promise<void>;
  /**
   * R71: one node polls an account at a time. Resolves to the lock when this node may poll it,
   * undefined while another node does (PostgreSQL: a session advisory lock that ends with the
   * holder's connection, so a dead node's accounts are free at once).
   */
  lock?: (name: string) => Promise<SqlLock | undefined>;
  /** How often a node on standby asks for the account again (a takeover within this). */
  standbyRetryMs?: number;
  /** processing.backlog_high_water: while true, no more mail is fetched (it stays on the server). */
  backlogFull?: () => boolean;
  metrics?: Metrics;
}

/** The keyword that marks a message as imported when there is no processed_mailbox. */
const IMPORTED_KEYWORD = '$DeskgateImported';
const TOO_LARGE_KEYWORD = '$DeskgateTooLarge';


function returnPath(source: Buffer): string | null {
  const head = source.subarray(0, Math.min(source.length, 64 * 1024)).toString('latin1');
  const m = /^Return-Path:\s*<([^>]*)>/im.exec(head);
  return m && m[1] ? normalizeAddress(m[1]) : null;
}

/**
 * One IMAP mailbox polled as safely as the SMTP listener: each new message is fetched, stored
 * durably through the same accept path (R6), and only then moved to processed_mailbox or flagged
 * \Seen + $DeskgateImported. A crash between the two re-fetches the message on restart, and R7's
 * dedupe makes that import a no-op. UIDVALIDITY and the last UID are kept in the database; a new
 * UIDVALIDITY rescans the mailbox. IDLE when offered, a poll every poll_interval regardless;
 * reconnects with back-off; one account's failure never touches another's or the SMTP listener.
 */
export class ImapPoller {
  private running = false;
  private client: ImapFlow | undefined;
  private readonly waker = createWaker();
  private loop: Promise<void> | undefined;
  private readonly key: string;
  private readonly log: Logger;
  /** The account as `deskgate imap status` names it. */
  get accountName(): string { return this.key; }
  private lock: SqlLock | undefined;
  /** R72: the account's access tokens, when it logs in with oauth2. */
  private readonly tokens: TokenSource | undefined;
  /** A refused token was renewed once already: a second refusal is the account's, not the token's. */
  private renewedAfterRefusal = false;

  constructor(private readonly account: ImapAccount, private readonly deps: ImapPollerDeps) {
    this.key = accountKey(account);
    this.log = deps.logger.child({ stage: 'ingest', via: 'imap', account: this.key });
    this.tokens = account.oauth2 ? new TokenSource(account.oauth2, {
      clock: deps.clock, store: deps.refreshTokens?.(account.oauth2), onResult: (ok) => deps.metrics?.oauth2Tokens.inc({ login: `imap:${this.key}`, result: ok ? 'ok' : 'error' }),
    }) : undefined;
  }

  /** R72: the account's access token as /healthz shows it; undefined for a password login. */
  get tokenStatus(): TokenStatus | undefined {
    return this.tokens?.status();
  }

  /** The token the last login used (R72: the one to throw away when it is refused). */
  private lastToken: string | undefined;

  /** imapflow's auth: the password, or a current access token (SASL XOAUTH2). */
  private async credentials(): Promise<ImapAuth> {
    if (!this.tokens) return { user: this.account.user, pass: this.account.pass ?? '' };
    this.lastToken = await this.tokens.token();
    return { user: this.account.user, accessToken: this.lastToken };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.waker.wake();
    try { this.client?.close(); } catch { /* already closed */ }
    await this.loop;
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  /** Whether this node polls the account now (always, without a lock function). */
  get polling(): boolean {
    return this.running && (!this.deps.lock || this.lock?.held === true);
  }

  /** Waits until this node holds the account's lock (R71); false once stopped. */
  private async acquire(): Promise<boolean> {
    if (!this.deps.lock) return true;
    let announced = false;
    while (this.running) {
      if (this.lock?.held) return true;
      this.lock = await this.deps.lock(`imap:${this.key}`).catch((err: unknown) => {
        this.log.warn({ event: 'imap:lock_error', code: errorCode(err, 'STORE_UNREACHABLE'), err: errorMessage(err) }, 'cannot ask the database who polls this account');
        return undefined;
      });
      if (this.lock) {
        this.log.info({ event: 'imap:lock_acquired' }, 'this node polls the account');
        return true;
      }
      if (!announced) {
        announced = true;
        this.log.info({ event: 'imap:standby' }, 'another node polls this account; standing by');
        await this.deps.state.setState(this.key, 'standby', this.now()).catch(() => {});
      }
      await this.sleep(this.deps.standbyRetryMs ?? 10_000);
    }
    return false;
  }

  private async run(): Promise<void> {
    await this.deps.state.get(this.key, this.now()); // the status row exists from the start, errors included
    let backoff = 1000;
    while (this.running) {
      if (!(await this.acquire())) break;
      await this.deps.state.setState(this.key, 'connecting', this.now());
      const started = Date.now();
      try {
        await this.session();
      } catch (err) {
        const e = err as { responseText?: string; code?: string };
        // NO [UNAVAILABLE]: the server could not check the login now (its token check is down),
        // which is temporary, not a refusal.
        const failure = loginFailure(err);
        const refused = failure === 'refused';
        // R72: a refused token may have been revoked or expired early: renew it once, at once.
        if (refused && this.tokens && !this.renewedAfterRefusal) {
          this.renewedAfterRefusal = true;
          this.tokens.invalidate(this.lastToken === undefined ? {} : { refused: this.lastToken });
          this.log.warn({ event: 'imap:token_refused', code: 'IMAP_TOKEN_REFUSED' }, 'the IMAP server refused the access token: getting a new one');
          continue;
        }
        const tokenError = typeof e.code === 'string' && e.code.startsWith('OAUTH2_');
        const message = refused ? `authentication failed for ${this.account.user}: ${e.responseText ?? errorMessage(err)}`
          : failure === 'unavailable' ? `the server could not check the login now: ${e.responseText ?? errorMessage(err)}` : errorMessage(err);
        await this.deps.state.error(this.key, message, this.now());
        if (tokenError) this.log.error({ event: 'imap:token_error', code: e.code, err: message }, 'no access token for the IMAP login: retrying with back-off');
        else this.log.error({ event: refused ? 'imap:auth_failed' : 'imap:error', code: refused ? 'IMAP_AUTH_FAILED' : 'IMAP_SESSION', cause_code: errorCode(err, 'IMAP_SESSION'), err: message }, refused ? `IMAP login refused: check the user and ${this.tokens ? 'the oauth2 app\'s access to the mailbox' : 'password'}` : 'IMAP session ended');
        if (refused) backoff = Math.max(backoff, 30_000);
      } finally {
        try { this.client?.close(); } catch { /* closed */ }
        this.client = undefined;
      }
      if (!this.running) break;
      if (Date.now() - started > 60_000) backoff = 1000; // a session that lasted was healthy
      if (this.deps.lock && !this.lock?.held) {
        this.log.warn({ event: 'imap:lock_lost', code: 'IMAP_LOCK_LOST' }, 'lost the account lock (database connection ended): another node may poll it now');
        continue;
      }
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, 60_000);
    }
    // The last node to stop says so; one handing over to another leaves the row to it.
    if (!this.deps.lock || this.lock?.held) await this.deps.state.setState(this.key, 'stopped', this.now()).catch(() => {});
    await this.lock?.release().catch(() => {});
    this.lock = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return this.waker.sleep(ms);
  }

  private async session(): Promise<void> {
    const a = this.account;
    const client = new ImapFlow({
      ...imapLogin(a, await this.credentials()),
      disableAutoIdle: !a.idle, connectionTimeout: 30_000, greetingTimeout: 15_000, socketTimeout: 5 * 60_000,
      // imapflow waits 15 s of quiet before IDLE by default; deskgate sends nothing between polls,
      // so IDLE at once, or new mail waits for that delay.
      autoIdleDelay: 300,
    });
    this.client = client;
    let closed = false;
    let newMail = false;
    client.on('error', (err: Error) => this.log.warn({ event: 'imap:socket_error', code: 'IMAP_SOCKET', cause_code: errorCode(err, 'IMAP_SOCKET'), err: err.message }, 'IMAP connection error'));
    client.on('close', () => { closed = true; this.waker.wake(); });
    client.on('exists', () => { newMail = true; this.waker.wake(); });
    await client.connect();
    this.renewedAfterRefusal = false;
    this.log.info({ event: 'imap:connected', idle: a.idle && Boolean(client.capabilities.has('IDLE')) }, 'IMAP connected');
    if (a.processed_mailbox) await client.mailboxCreate(a.processed_mailbox).catch(() => { /* exists */ });
    const box = await client.mailboxOpen(a.mailbox);
    const uidValidity = String(box.uidValidity);
    const saved = await this.deps.state.get(this.key, this.now());
    let lastUid = saved.last_uid;
    if (saved.uidvalidity !== null && saved.uidvalidity !== uidValidity) {
      this.log.warn({ event: 'imap:uidvalidity_changed', old: saved.uidvalidity, new: uidValidity }, 'UIDVALIDITY changed: rescanning the mailbox (duplicates are skipped by Message-ID)');
      lastUid = 0;
    }
    await this.deps.state.savePosition(this.key, uidValidity, lastUid, this.now());
    while (this.polling && !closed) {
      newMail = false;
      lastUid = await this.poll(client, uidValidity, lastUid);
      const idling = a.idle && client.capabilities.has('IDLE');
      await this.deps.state.polled(this.key, idling ? 'idle' : 'polling', this.now());
      // In slices, so a lost lock (R71) stops this node within seconds, not a poll_interval.
      const until = Date.now() + a.poll_interval;
      while (!newMail && this.polling && !closed && Date.now() < until) await this.sleep(Math.min(until - Date.now(), 5_000));
    }
  }

  /** Imports every message above lastUid; returns the new lastUid. */
  private async poll(client: ImapFlow, uidValidity: string, lastUid: number): Promise<number> {
    const a = this.account;
    const uids = ((await client.search({ uid: `${lastUid + 1}:*` }, { uid: true })) || []).filter((u) => u > lastUid).sort((x, y) => x - y);
    let imported = 0;
    let duplicates = 0;
    for (const uid of uids) {
      if (!this.polling) break; // lock lost: the node that has it now goes on from the saved UID
      if (this.deps.backlogFull?.()) {
        this.log.info({ event: 'imap:paused', uid }, 'processing backlog past the high-water mark: the rest waits on the server until the next poll');
        break;
      }
      const msg = await client.fetchOne(String(uid), { source: true, flags: true }, { uid: true });
      if (!msg || !msg.source) continue;
      const flags = msg.flags ?? new Set<string>();
      if (flags.has(IMPORTED_KEYWORD) || flags.has(TOO_LARGE_KEYWORD)) {
        lastUid = uid;
        continue;
      }
      const source = msg.source;
      const to = recipientsFromHeaders(source, this.deps.recipientOf);
      const result = await this.deps.accept(source, { via: 'imap', from: returnPath(source), to: to.length > 0 ? to : [this.deps.defaultRecipient] });
      if (!isAccepted(result)) {
        await client.messageFlagsAdd(String(uid), [TOO_LARGE_KEYWORD], { uid: true });
        this.log.error({ event: 'imap:too_large', code: 'IMAP_TOO_LARGE', uid, size: result.size }, 'message over smtp.max_message_size left in the mailbox, flagged $DeskgateTooLarge');
        lastUid = uid;
        continue;
      }
      await this.deps.afterAccept?.(uid);
      // Stored durably above (R6): only now may the server forget it.
      if (a.processed_mailbox) await client.messageMove(String(uid), a.processed_mailbox, { uid: true });
      else await client.messageFlagsAdd(String(uid), ['\\Seen', IMPORTED_KEYWORD], { uid: true });
      lastUid = uid;
      await this.deps.state.savePosition(this.key, uidValidity, lastUid, this.now());
      if (result.duplicate) duplicates++;
      else imported++;
      this.log.info({ event: 'ingest:accepted', uid, intake_id: result.intakeId, message_id: result.messageId, duplicate: result.duplicate }, 'message imported');
    }
    if (imported + duplicates > 0) await this.deps.state.count(this.key, imported, duplicates, this.now());
    return lastUid;
  }
}
