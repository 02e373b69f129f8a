import { createHash } from 'node:crypto';
import { DeskgateError } from '../shared/errors.js';
import type { SqlParams } from './sql.js';

/**
 * A repository statement (`?` or `@name` placeholders, as better-sqlite3 takes them) rewritten
 * for PostgreSQL (`$1..$n`). `names[i]` is the named value bound to `$(i+1)`.
 */
export interface PgStatement {
  readonly text: string;
  readonly kind: 'none' | 'positional' | 'named';
  /** How many `$n` the text has. */
  readonly count: number;
  readonly names: readonly string[];
  /** Prepared statement name: stable per text, under PostgreSQL's 63-byte limit. */
  readonly name: string;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_$]/;

/** Index just past a quoted run starting at `i` (quote char `q`, doubled quote escapes it). */
function skipQuoted(s: string, i: number, q: string, backslash: boolean): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j]!;
    if (backslash && c === '\\') { j += 2; continue; }
    if (c === q) {
      if (s[j + 1] === q) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  return s.length;
}

/** PostgreSQL block comments nest. */
function skipBlockComment(s: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < s.length) {
    if (s.startsWith('/*', j)) { depth++; j += 2; continue; }
    if (s.startsWith('*/', j)) { depth--; j += 2; if (depth === 0) return j; continue; }
    j++;
  }
  return s.length;
}

/** `$tag$ … $tag$` (or `$$ … $$`) starting at `i`, or -1 when `$` does not open one here. */
function skipDollarQuoted(s: string, i: number): number {
  const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i, i + 64));
  if (!m) return -1;
  const end = s.indexOf(m[0], i + m[0].length);
  return end < 0 ? s.length : end + m[0].length;
}

/**
 * Rewrites placeholders outside string literals ('…' with '' escapes, E'…' with backslashes,
 * $$…$$), quoted identifiers, comments and `::type` casts. A name used twice is one `$n`.
 */
export function translatePlaceholders(src: string): PgStatement {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  const index = new Map<string, number>();
  let i = 0;
  let from = 0; // start of the text not yet copied to `out`
  const emit = (upTo: number, replacement: string, resume: number): void => {
    out += src.slice(from, upTo) + replacement;
    from = resume;
  };
  while (i < src.length) {
    const c = src[i]!;
    const prev = i > 0 ? src[i - 1]! : '';
    if (c === "'") {
      i = skipQuoted(src, i, "'", (prev === 'E' || prev === 'e') && !IDENT.test(src[i - 2] ?? ''));
    } else if (c === '"') {
      i = skipQuoted(src, i, '"', false);
    } else if (c === '-' && src[i + 1] === '-') {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl + 1;
    } else if (c === '/' && src[i + 1] === '*') {
      i = skipBlockComment(src, i);
    } else if (c === '$' && !IDENT.test(prev)) {
      const end = skipDollarQuoted(src, i);
      i = end < 0 ? i + 1 : end;
    } else if (c === ':' && src[i + 1] === ':') {
      i += 2;
    } else if (c === '?') {
      emit(i, `$${++positional}`, i + 1);
      i++;
    } else if (c === '@' && IDENT_START.test(src[i + 1] ?? '') && !/[A-Za-z0-9_@]/.test(prev)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      const name = src.slice(i + 1, j);
      let n = index.get(name);
      if (n === undefined) {
        names.push(name);
        n = names.length;
        index.set(name, n);
      }
      emit(i, `$${n}`, j);
      i = j;
    } else {
      i++;
    }
  }
  out += src.slice(from);
  if (positional > 0 && names.length > 0) {
    throw new DeskgateError('STORE_SQL_PLACEHOLDERS', `a statement mixes ? and @name placeholders: ${snippet(src)}`, { context: { statement: snippet(src) } });
  }
  const kind = positional > 0 ? 'positional' : names.length > 0 ? 'named' : 'none';
  const name = `dg_${createHash('sha1').update(out).digest('hex')}`;
  return { text: out, kind, count: positional || names.length, names, name };
}

/** The start of a statement for messages and log lines (values never appear in it). */
export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function missing(text: string, which: string): DeskgateError {
  return new DeskgateError('STORE_PARAM_MISSING', `no value for ${which} in: ${snippet(text)}`, { context: { statement: snippet(text), param: which } });
}

/** The `$1..$n` values for a statement; undefined (a missing value) is refused, not sent as NULL. */
export function bindValues(st: PgStatement, params: SqlParams | undefined, original: string): unknown[] {
  if (st.kind === 'none') return [];
  if (st.kind === 'positional') {
    if (!Array.isArray(params)) throw missing(original, 'the ? placeholders (pass an array)');
    const values = params.slice(0, st.count);
    for (let i = 0; i < st.count; i++) if (values[i] === undefined) throw missing(original, `placeholder ${i + 1}`);
    return values;
  }
  if (params === undefined || Array.isArray(params)) throw missing(original, 'the @name placeholders (pass an object)');
  const named = params as Readonly<Record<string, unknown>>;
  return st.names.map((n) => {
    const v = named[n];
    if (v === undefined) throw missing(original, `@${n}`);
    return v;
  });
}
