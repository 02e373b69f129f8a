import { createRequire } from 'node:module';
import type { Liquid, Template } from 'liquidjs';

/**
 * Liquid for subjects and bodies (R53): strict about syntax, lenient about missing values.
 * Loaded on the first template, not with the config: `inject` validates a config and may never
 * render one (issue 15).
 */
let loaded: Liquid | undefined;
// locale: without one, liquidjs asks Intl for the machine's default (ICU's start, ~14 ms of a
// pipe run), and the `date` filter's month and day names would follow the server's locale.
const engine = (): Liquid => (loaded ??= new (createRequire(import.meta.url)('liquidjs') as typeof import('liquidjs')).Liquid({
  strictFilters: true, strictVariables: false, ownPropertyOnly: true, cache: false, locale: 'en-US',
}));

export type Compiled = Template[];

/** Parses a template; throws an Error naming the line on bad syntax (a config error, R53). */
export function compileTemplate(source: string): Compiled {
  return engine().parse(source);
}

export function renderTemplate(t: Compiled, vars: Record<string, unknown>): string {
  return engine().renderSync(t, vars) as string;
}

/**
 * R54: a value rendered into a header loses CR, LF and every other control character, so no
 * placeholder can add a header or a recipient.
 */
export function headerSafe(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f\u0080-\u009f\u2028\u2029]+/g, ' ').replace(/\s{2,}/g, ' ').trim().slice(0, 900);
}
