/**
 * Cheap reads of a raw header block, for ingest, which must find Message-ID (R7) without
 * paying for a MIME parse on the SMTP path.
 */
export function unfoldHeaders(block: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = block.split(/\r?\n/);
  let current: string | undefined;
  const flush = () => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = current.slice(0, colon).trim().toLowerCase();
      const value = current.slice(colon + 1).trim();
      out.set(name, [...(out.get(name) ?? []), value]);
    }
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current !== undefined) current += ' ' + line.trim();
    else {
      flush();
      current = line;
    }
  }
  flush();
  return out;
}

/** Every <id> in a Message-ID / In-Reply-To / References value, brackets kept. */
export function extractMessageIds(value: string | undefined | null): string[] {
  if (!value) return [];
  return [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => `<${m[1]}>`);
}

/** The message's own Message-ID from a header block, or null when it has none or a malformed one. */
export function messageIdFromHeaders(block: string): string | null {
  const values = unfoldHeaders(block).get('message-id');
  if (!values || values.length !== 1) return null;
  const ids = extractMessageIds(values[0]);
  if (ids.length !== 1 || ids[0]!.length > 998) return null;
  return ids[0]!;
}
