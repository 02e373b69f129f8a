import type { Transporter } from 'nodemailer';
import { readFileSync } from 'node:fs';
import type { OutboxRepo, OutboundRow } from '../store/index.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import type { NodeLease } from '../shared/node-id.js';
import { createWaker } from '../shared/waker.js';
import { afterFailure, type RetrySettings } from './retry-policy.js';
import type { Metrics } from '../shared/metrics.js';
import { TokenSource, type OAuth2Settings, type RefreshTokenStore } from '../shared/oauth2.js';
import { isLoopbackHost } from '../shared/addresses.js';
import { verpAddress } from '../shared/verp.js';

export interface SmarthostConfig {
  host: string;
  port: number;
  secure: boolean;
  /** A password, or oauth2 (R72: SASL XOAUTH2, as Exchange Online's SMTP AUTH needs). */
  auth?: { user: string; pass?: string | undefined; oauth2?: OAuth2Settings | undefined } | undefined;
}

/**
 * nodemailer's auth for the smarthost. With oauth2, nodemailer asks provisionCallback for a token
 * and, when the server refuses it, once more with renew set: the token source then fetches a new
 * one (R72). A token endpoint that is down fails the delivery like a smarthost that is down: the
 * message is deferred and retried (R59).
 */
function smarthostAuth(auth: NonNullable<SmarthostConfig['auth']>, tokens: TokenSource | undefined): Record<string, unknown> {
  if (!tokens) return { user: auth.user, pass: auth.pass ?? '' };
  return {
    type: 'OAuth2', user: auth.user,
    // A function, not an arrow: nodemailer calls it on the connection's XOAuth2 object, whose
    // accessToken is the token just refused. Each pooled connection refused with the old token
    // asks to renew; throwing away only that token lets one new token serve them all.
    provisionCallback: function (this: { accessToken?: unknown }, _user: string, renew: boolean, cb: (err: Error | null, token?: string, expires?: number) => void) {
      if (renew) tokens.invalidate(typeof this?.accessToken === 'string' ? { refused: this.accessToken } : {});
      tokens.token().then((t) => cb(null, t, tokens.renewAt), (err: Error) => cb(err));
    },
  };
}

export interface DkimConfig {
  domain: string;
  selector: string;
  private_key: string;
}

function address(p: { email: string; name: string | null }) {
  return p.name ? { name: p.name, address: p.email } : p.email;
}

/**
 * The outbound worker (R59): claims due messages, delivers them through the smarthost with a
 * connection pool, marks each sent as soon as the smarthost accepts it (so a restart never sends
 * it again), defers temporary failures with doubling delays, and fails permanent ones with the
 * server's answer. The Message-ID was fixed at enqueue, so every attempt carries the same one.
 */
export function createOutboundSender(deps: {
  outbox: OutboxRepo; smarthost: SmarthostConfig | undefined; dkim?: DkimConfig | undefined; retry: RetrySettings;
  logger: Logger; clock: Clock; lease: NodeLease; pollMs?: number; batch?: number; metrics?: Metrics;
  /** R67: outbound.return_path, and the key that signs each message's VERP address. */
  returnPath?: string | undefined; secret?: string | undefined;
  /** R72: where a rotated refresh token is kept across restarts. */
  refreshTokens?: (s: OAuth2Settings) => RefreshTokenStore;
}) {
  const log = deps.logger.child({ stage: 'outbound' });
  const dkim = deps.dkim ? { domainName: deps.dkim.domain, keySelector: deps.dkim.selector, privateKey: readFileSync(deps.dkim.private_key, 'utf8') } : undefined;
  const auth = deps.smarthost?.auth;
  const tokens = auth?.oauth2 ? new TokenSource(auth.oauth2, {
    clock: deps.clock, store: deps.refreshTokens?.(auth.oauth2), onResult: (ok) => deps.metrics?.oauth2Tokens.inc({ login: 'smarthost', result: ok ? 'ok' : 'error' }),
  }) : undefined;
  // nodemailer is loaded when the first message is delivered, not by every CLI command.
  let transport: Transporter | undefined;
  const makeTransport = async (): Promise<Transporter> => (await import('nodemailer')).default.createTransport({
      host: deps.smarthost!.host, port: deps.smarthost!.port, secure: deps.smarthost!.secure,
      ...(auth ? { auth: smarthostAuth(auth, tokens) } : {}),
      // R72: an access token never goes in clear off this host: STARTTLS is required then.
      ...(tokens && !deps.smarthost!.secure && !isLoopbackHost(deps.smarthost!.host) ? { requireTLS: true } : {}),
      pool: true, maxConnections: 4, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000,
      ...(dkim ? { dkim } : {}),
    });
  let running = false;
  const waker = createWaker();
  let loop: Promise<void> | undefined;

  // R71: this node was too slow (its lease ran out) and another took the row over: leave it to that node.
  const claimLost = (row: OutboundRow): void => {
    log.warn({ event: 'outbound:claim_lost', code: 'OUTBOUND_CLAIM_LOST', outbox_id: row.id, message_id: row.message_id }, 'another node took this notification over; its outcome is left to that node');
  };

  /**
   * The SMTP transactions of one message: one for all its recipients, or (R67, with a return
   * path) one per recipient, each with its own signed VERP sender, so a bounce names whose copy
   * came back. The headers, Message-ID included, are the same in every copy.
   */
  const transactionsOf = (row: OutboundRow): Array<{ mail: Record<string, unknown>; recipients: string[] }> => {
    const mail = {
      from: address(row.from), to: row.to.map(address), cc: row.cc.map(address), replyTo: row.reply_to ?? undefined,
      subject: row.subject, text: row.body, messageId: row.message_id, date: new Date(row.created_at),
      inReplyTo: row.in_reply_to ?? undefined, references: row.references, headers: row.headers,
    };
    const everyone = [...row.to, ...row.cc].map((p) => p.email);
    const rp = deps.returnPath;
    const secret = deps.secret;
    if (!rp || !secret) return [{ mail, recipients: everyone }];
    return everyone.map((r) => ({ mail: { ...mail, envelope: { from: verpAddress(rp, row.id, r, secret), to: [r] } }, recipients: [r] }));
  };

  type SmtpError = { responseCode?: number; response?: string; message: string; code?: string };
  const describe = (e: SmtpError) => e.response ?? `${e.code ?? 'ERROR'}: ${e.message}`;
  // A refused login (or no token, R72) is the smarthost's config, not the message's: deferred
  // until it is fixed, as Postfix's smtp_sasl_auth_soft_bounce does, never failed for good.
  const responseCodeOf = (e: SmtpError) => (e.code === 'EAUTH' ? undefined : e.responseCode);

  async function deliver(row: OutboundRow): Promise<void> {
    const now = deps.clock.now();
    const sent: Array<{ response: string; rejected: string[] }> = [];
    const failed: Array<{ err: SmtpError; recipients: string[] }> = [];
    for (const t of transactionsOf(row)) {
      try {
        const info = await transport!.sendMail(t.mail);
        sent.push({ response: String(info.response ?? ''), rejected: (info.rejected ?? []).map(String) });
      } catch (err) {
        failed.push({ err: err as SmtpError, recipients: t.recipients });
      }
    }
    if (sent.length > 0) {
      // Some copy was taken: the message is sent (never sent again); who was refused is noted.
      const refused = [...sent.flatMap((s) => s.rejected), ...failed.map((f) => `${f.recipients.join(', ')} (${describe(f.err)})`)];
      const kept = await deps.outbox.markSent(row.id, deps.lease.id, deps.clock.now().toISOString(), refused.length ? `rejected: ${refused.join(', ')}` : null);
      if (!kept) claimLost(row);
      deps.metrics?.outbound.inc({ result: 'sent' });
      log.info({ event: 'outbound:sent', outbox_id: row.id, ticket_id: row.ticket_id, message_id: row.message_id, trigger: row.trigger, response: sent[0]!.response, ...(refused.length ? { refused } : {}) }, 'notification sent');
      return;
    }
    // No copy taken: a temporary failure of any decides (retried), as a single transaction's would.
    const decisive = failed.find((f) => { const c = responseCodeOf(f.err); return c === undefined || c < 500; }) ?? failed[0]!;
    const error = describe(decisive.err);
    const next = afterFailure({ responseCode: responseCodeOf(decisive.err), attempts: row.attempts + 1, createdAt: new Date(row.created_at), now, error }, deps.retry);
    if (next.kind === 'failed') {
      if (!(await deps.outbox.markFailed(row.id, deps.lease.id, next.reason))) return claimLost(row);
      deps.metrics?.outbound.inc({ result: 'failed' });
      log.warn({ event: 'outbound:failed', code: 'OUTBOUND_PERMANENT', outbox_id: row.id, ticket_id: row.ticket_id, message_id: row.message_id, error: next.reason }, 'notification failed');
    } else {
      if (!(await deps.outbox.markDeferred(row.id, deps.lease.id, error, next.next.toISOString()))) return claimLost(row);
      deps.metrics?.outbound.inc({ result: 'deferred' });
      log.info({ event: 'outbound:deferred', code: 'OUTBOUND_TEMPORARY', outbox_id: row.id, message_id: row.message_id, error, next_attempt_at: next.next.toISOString() }, 'notification deferred');
    }
  }

  // A round whose outcome could not be recorded (the database went away) leaves rows claimed by
  // this live node, which no other node takes back: between rounds this node holds no claims, so
  // it gives them all back (a message that was sent may go once more: at least once, never lost).
  let leftovers = false;

  async function deliverDue(): Promise<number> {
    if (!deps.smarthost) return 0;
    if (leftovers) {
      await deps.outbox.releaseClaims(deps.lease.id);
      leftovers = false;
    }
    await deps.lease.renew(); // claims hold while this process's heartbeat is fresh
    const rows = await deps.outbox.claimDue(deps.lease.id, deps.clock.now().toISOString(), deps.batch ?? 16);
    if (rows.length === 0) return 0;
    try {
      transport ??= await makeTransport();
    } catch (err) {
      await deps.outbox.releaseClaims(deps.lease.id); // not stuck under a live claim
      throw err;
    }
    const results = await Promise.allSettled(rows.map(deliver));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      leftovers = true;
      throw failed.reason;
    }
    return rows.length;
  }

  return {
    deliverDue,
    kick(): void { waker.wake(); },
    start(): void {
      if (running) return;
      running = true;
      if (!deps.smarthost) log.warn({ event: 'outbound:no_smarthost' }, 'outbound.smtp is not configured: notifications stay queued');
      loop = (async () => {
        while (running) {
          let n = 0;
          try { n = await deliverDue(); } catch (err) { log.error({ event: 'outbound:error', err }, 'delivery round failed'); }
          if (n > 0 || !running) continue;
          const due = await deps.outbox.nextDueAt();
          const wait = Math.max(20, Math.min(deps.pollMs ?? 1000, due ? Date.parse(due) - deps.clock.now().getTime() : Infinity));
          await waker.sleep(wait);
        }
      })();
    },
    async stop(): Promise<void> {
      running = false;
      waker.wake();
      await loop;
      transport?.close();
    },
  };
}

export type OutboundSender = ReturnType<typeof createOutboundSender>;
