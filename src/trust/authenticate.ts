import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { AuthSummary, AuthWord } from './auth-results.js';
import type { ResolveFn } from './dns-resolver.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { errorCode } from '../shared/errors.js';

// mailauth 4 is CommonJS without type declarations. Loaded on first use: it takes ~0.2 s, which
// CLI commands that never authenticate (inject with trust off, tickets, …) should not pay.
type Authenticate = {
  authenticate: (input: Buffer | Readable, opts: Record<string, unknown>) => Promise<{
    spf?: { status?: { result?: string; comment?: string | false } } | false;
    dkim?: { results?: Array<{ status?: { result?: string; comment?: string | false; aligned?: string | false } }> };
    dmarc?: { status?: { result?: string; comment?: string | false }; policy?: string; error?: string } | false;
    arc?: { status?: { result?: string; comment?: string | false } } | false;
  }>;
};
let loaded: Authenticate | undefined;
const mailauth = (): Authenticate => (loaded ??= createRequire(import.meta.url)('mailauth') as Authenticate);

export interface AuthOutcome extends AuthSummary {
  arc: AuthWord;
  /** The From domain's DMARC policy (p=, or sp= for subdomains), when it has one (R45). */
  dmarcPolicy: string | null;
}

const WORDS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);
const word = (w: string | undefined): AuthWord => (w && WORDS.has(w) ? (w as AuthWord) : 'none');

type Check = 'spf' | 'dkim' | 'dmarc' | 'arc';
type CheckResult = { status?: { result?: string; comment?: string | false }; error?: string } | false | undefined;

/** The Message-ID of the raw header block, for log lines only (the message is parsed later). */
export function messageIdOf(raw: Buffer): string | null {
  const head = raw.subarray(0, 64 * 1024).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const m = /^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(end >= 0 ? head.slice(0, end) : head);
  return m ? m[1]!.replace(/\s+/g, ' ').trim().slice(0, 250) || null : null;
}

/**
 * Logs each check that could not be done (temperror: DNS timeout or SERVFAIL; permerror: the
 * sender's record is broken), with mailauth's reason. Results such as fail are answers, not
 * failures of the check, and stay quiet. Only names, addresses and the reason: no content.
 */
function logFailedChecks(log: Logger, checks: Array<[Check, CheckResult]>, messageId: () => string | null): void {
  for (const [check, r] of checks) {
    const result = r ? r.status?.result : undefined;
    if (result !== 'temperror' && result !== 'permerror') continue;
    const reason = (r && (r.status?.comment || r.error)) || null;
    const line = { event: 'trust:check_failed', code: result === 'temperror' ? 'TRUST_TEMPERROR' : 'TRUST_PERMERROR', check, result, message_id: messageId(), reason };
    if (result === 'temperror') log.warn(line, `${check} could not be checked: temperror (never a pass)`);
    else log.info(line, `${check}: the sender's record is broken (permerror)`);
  }
}

/**
 * SPF for the connecting IP and envelope sender, DKIM, ARC and DMARC alignment of the raw
 * message (R44), with mailauth and the given resolver. Any failure of the check itself is
 * temperror: it never counts as a pass, and is logged with the check and the reason.
 */
export async function authenticateMessage(
  raw: Buffer | Readable, session: { ip: string | null; helo: string | null; sender: string | null; mta: string; messageId?: string | null }, resolve: ResolveFn, log: Logger = silentLogger(),
): Promise<AuthOutcome> {
  // Only for the log lines of a failed check: the intake row usually knows it; read it only then.
  const messageId = () => (session.messageId !== undefined ? session.messageId : Buffer.isBuffer(raw) ? messageIdOf(raw) : null);
  try {
    const r = await mailauth().authenticate(raw, {
      ip: session.ip ?? undefined, helo: session.helo ?? undefined, sender: session.sender ?? '', mta: session.mta,
      resolver: resolve, disableBimi: true,
    });
    const dkimResults = r.dkim?.results ?? [];
    const dkim = dkimResults.some((d) => d.status?.result === 'pass') ? 'pass' : word(dkimResults[0]?.status?.result);
    logFailedChecks(log, [['spf', r.spf], ...dkimResults.map((d): [Check, CheckResult] => ['dkim', d]), ['dmarc', r.dmarc], ['arc', r.arc]], messageId);
    return {
      spf: word(r.spf ? r.spf.status?.result : undefined),
      dkim,
      dmarc: word(r.dmarc ? r.dmarc.status?.result : undefined),
      arc: word(r.arc ? r.arc.status?.result : undefined),
      dmarcPolicy: r.dmarc ? r.dmarc.policy ?? null : null,
    };
  } catch (err) {
    log.warn({ event: 'trust:check_failed', code: 'TRUST_TEMPERROR', check: 'all', result: 'temperror', message_id: messageId(), cause_code: errorCode(err), err },
      'mail authentication failed: SPF, DKIM, DMARC and ARC count as temperror (never a pass)');
    return { spf: 'temperror', dkim: 'temperror', dmarc: 'temperror', arc: 'temperror', dmarcPolicy: null };
  }
}
