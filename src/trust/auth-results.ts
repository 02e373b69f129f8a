/** RFC 8601 result words used in the ticket JSON's `auth`. */
export type AuthWord = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

export interface AuthSummary {
  spf: AuthWord;
  dkim: AuthWord;
  dmarc: AuthWord;
}

const WORDS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);

/**
 * R44 for polled and piped mail: the results of the first Authentication-Results header whose
 * authserv-id is the configured trusted server. Headers from anyone else are ignored: a sender
 * can write any Authentication-Results it likes. Pure.
 */
export function trustedAuthResults(headers: readonly string[], trustedId: string | undefined): AuthSummary | null {
  if (!trustedId) return null;
  const wanted = trustedId.toLowerCase();
  // The top-most header is the one our own server added; later ones came with the message.
  const header = headers.find((h) => h.split(';')[0]!.trim().split(/\s+/)[0]!.toLowerCase() === wanted);
  if (!header) return null;
  const word = (method: string): AuthWord => {
    const m = new RegExp(`(?:^|[;\\s])${method}\\s*=\\s*([a-z]+)`, 'i').exec(header);
    const w = m?.[1]?.toLowerCase();
    return w && WORDS.has(w) ? (w as AuthWord) : 'none';
  };
  return { spf: word('spf'), dkim: word('dkim'), dmarc: word('dmarc') };
}
