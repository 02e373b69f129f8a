import { isLoopbackHost } from '../shared/addresses.js';

/** The key an IMAP mailbox's state is stored under (deskgate imap status). */
export function accountKey(a: { user: string; host: string; port: number; mailbox: string }): string {
  return `${a.user}@${a.host}:${a.port}/${a.mailbox}`;
}

/** imapflow's auth: a password, or (R72) an access token for SASL XOAUTH2/OAUTHBEARER. */
export type ImapAuth = { user: string; pass: string } | { user: string; accessToken: string };

/**
 * The connection options every IMAP login of an account shares (the poller and `imap test`):
 * an access token is a password for an hour, so off this host it never goes in clear
 * (STARTTLS required when `secure` is false).
 */
export function imapLogin(a: { host: string; port: number; secure: boolean }, auth: ImapAuth) {
  return {
    host: a.host, port: a.port, secure: a.secure, auth, logger: false as const,
    ...('accessToken' in auth && !a.secure && !isLoopbackHost(a.host) ? { doSTARTTLS: true } : {}),
  };
}

/**
 * What a failed login was: `refused` (NO [AUTHENTICATIONFAILED]: wrong password or token),
 * `unavailable` (NO [UNAVAILABLE]: the server could not check it now, temporary), or neither.
 * imapflow sets authenticationFailed for both.
 */
export function loginFailure(err: unknown): 'refused' | 'unavailable' | undefined {
  const e = err as { authenticationFailed?: boolean; serverResponseCode?: string };
  if (e.authenticationFailed !== true) return undefined;
  return e.serverResponseCode === 'UNAVAILABLE' ? 'unavailable' : 'refused';
}
