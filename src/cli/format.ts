/** Repeatable options collect every value: never variadic, which would swallow a FILE argument. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Human output for admins: aligned plain-text tables, no colours (logs and pipes stay clean). */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c)).replace(/[\r\n\t]+/g, ' ')));
  const widths = headers.map((h, i) => Math.min(60, Math.max(h.length, ...cells.map((r) => r[i]!.length))));
  const fit = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
  const line = (r: string[]) => r.map((c, i) => fit(c, widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function person(p: { email: string; name: string | null } | null): string {
  if (!p) return '-';
  return p.name ? `${p.name} <${p.email}>` : p.email;
}
