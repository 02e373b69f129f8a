import { createRequire } from 'node:module';
import type { AuthSummary, AuthWord } from './auth-results.js';
import type { ResolveFn } from './dns-resolver.js';

// mailauth 4 is CommonJS without type declarations. Loaded on first use: it takes ~0.2 s, which
// CLI commands that never authenticate (inject with trust off, tickets, …) should not pay.
type Authenticate = {
  authenticate: (input: Buffer, opts: Record<string, unknown>) => Promise<{
    spf?: { status?: { result?: string } } | false;
    dkim?: { results?: Array<{ status?: { result?: string; aligned?: string | false } }> };
    dmarc?: { status?: { result?: string }; policy?: string } | false;
    arc?: { status?: { result?: string } } | false;
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

/**
 * SPF for the connecting IP and envelope sender, DKIM, ARC and DMARC alignment of the raw
 * message (R44), with mailauth and the given resolver. Any failure of the check itself is
 * temperror: it never counts as a pass.
 */
export async function authenticateMessage(raw: Buffer, session: { ip: string | null; helo: string | null; sender: string | null; mta: string }, resolve: ResolveFn): Promise<AuthOutcome> {
  try {
    const r = await mailauth().authenticate(raw, {
      ip: session.ip ?? undefined, helo: session.helo ?? undefined, sender: session.sender ?? '', mta: session.mta,
      resolver: resolve, disableBimi: true,
    });
    const dkimResults = r.dkim?.results ?? [];
    const dkim = dkimResults.some((d) => d.status?.result === 'pass') ? 'pass' : word(dkimResults[0]?.status?.result);
    return {
      spf: word(r.spf ? r.spf.status?.result : undefined),
      dkim,
      dmarc: word(r.dmarc ? r.dmarc.status?.result : undefined),
      arc: word(r.arc ? r.arc.status?.result : undefined),
      dmarcPolicy: r.dmarc ? r.dmarc.policy ?? null : null,
    };
  } catch {
    return { spf: 'temperror', dkim: 'temperror', dmarc: 'temperror', arc: 'temperror', dmarcPolicy: null };
  }
}
