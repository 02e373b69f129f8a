import { ImapFlow } from 'imapflow';
import { TokenSource, type RefreshTokenStore } from '../shared/oauth2.js';
import { errorMessage } from '../shared/errors.js';
import type { Clock } from '../shared/clock.js';
import type { ImapAccount } from './imap-poller.js';
import { imapLogin, loginFailure, type ImapAuth } from './imap-account.js';

export interface ImapCheck {
  ok: boolean;
  /** What was tried, in order, each with its outcome in words an admin acts on. */
  steps: Array<{ step: 'token' | 'connect' | 'login' | 'mailbox'; ok: boolean; detail: string }>;
}

/**
 * `deskgate imap test`: logs in to one account as the poller would (R72's token first when the
 * account uses oauth2), opens its mailbox and says what failed, naming the likely fix.
 */
export async function checkImapAccount(a: ImapAccount, clock: Clock, store?: RefreshTokenStore): Promise<ImapCheck> {
  const steps: ImapCheck['steps'] = [];
  const done = (ok: boolean): ImapCheck => ({ ok, steps });
  let auth: ImapAuth = { user: a.user, pass: a.pass ?? '' };
  if (a.oauth2) {
    const tokens = new TokenSource(a.oauth2, { clock, store });
    try {
      auth = { user: a.user, accessToken: await tokens.token() };
      steps.push({ step: 'token', ok: true, detail: `access token from ${new URL(a.oauth2.token_url).host} (${tokens.grant} grant)` });
    } catch (err) {
      steps.push({ step: 'token', ok: false, detail: errorMessage(err) });
      return done(false);
    }
  }
  const client = new ImapFlow({ ...imapLogin(a, auth), connectionTimeout: 15_000, greetingTimeout: 10_000, disableAutoIdle: true });
  client.on('error', () => { /* reported by connect() */ });
  try {
    await client.connect();
    steps.push({ step: 'connect', ok: true, detail: `connected to ${a.host}:${a.port}${a.secure ? ' (TLS)' : ''}` });
    steps.push({ step: 'login', ok: true, detail: `logged in as ${a.user}${a.oauth2 ? ' with XOAUTH2' : ''}` });
  } catch (err) {
    const e = err as { responseText?: string };
    const failure = loginFailure(err);
    if (failure === 'unavailable') {
      steps.push({ step: 'connect', ok: true, detail: `connected to ${a.host}:${a.port}` });
      steps.push({ step: 'login', ok: false, detail: `the server could not check the login now (try again later): ${e.responseText ?? errorMessage(err)}` });
    } else if (failure === 'refused') {
      steps.push({ step: 'connect', ok: true, detail: `connected to ${a.host}:${a.port}` });
      steps.push({ step: 'login', ok: false, detail: `the server refused the login for ${a.user}: ${e.responseText ?? errorMessage(err)}${loginHint(a)}` });
    } else {
      steps.push({ step: 'connect', ok: false, detail: connectProblem(a, err) });
    }
    return done(false);
  }
  try {
    const status = await client.status(a.mailbox, { messages: true, unseen: true });
    if (!status) throw new Error('the server gave no STATUS');
    steps.push({ step: 'mailbox', ok: true, detail: `${a.mailbox}: ${status.messages ?? 0} messages, ${status.unseen ?? 0} unseen` });
    return done(true);
  } catch (err) {
    const names = await client.list().then((l) => l.map((m) => m.path).slice(0, 20).join(', '), () => '');
    steps.push({ step: 'mailbox', ok: false, detail: `cannot open ${a.mailbox}: ${errorMessage(err)}${names ? ` (the mailboxes are: ${names})` : ''}` });
    return done(false);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

function connectProblem(a: ImapAccount, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const where = `${a.host}:${a.port}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the host name ${a.host} was not found (check imap host)`;
  if (code === 'ECONNREFUSED') return `${where} refused the connection (check the port: IMAPS is 993 with secure: true, IMAP 143 with secure: false)`;
  if (code === 'ETIMEDOUT' || code === 'CONNECT_TIMEOUT' || code === 'GREETING_TIMEOUT') return `${where} did not answer in time (a firewall, or the wrong port)`;
  if (/SSL|TLS|certificate|wrong version/i.test(`${code} ${errorMessage(err)}`)) return `TLS with ${where} failed: ${errorMessage(err)} (secure: true needs a port that speaks TLS at once, e.g. 993)`;
  return `cannot connect to ${where}: ${errorMessage(err)}`;
}

function loginHint(a: ImapAccount): string {
  if (!a.oauth2) return ' (check user and pass; Microsoft 365 and Google refuse passwords: use oauth2, see the admin guide)';
  if (/office365|outlook|microsoft/i.test(`${a.host} ${a.oauth2.token_url}`)) {
    return ' (the token was issued but Exchange refused it: give the app IMAP.AccessAsApp and the mailbox permission for its service principal, or check the scope https://outlook.office365.com/.default)';
  }
  if (/gmail|google/i.test(`${a.host} ${a.oauth2.token_url}`)) return ' (check the scope https://mail.google.com/ and that user is the mailbox the refresh token was issued for)';
  return ' (the token was issued but the IMAP server refused it: check scope and user)';
}
