import { sql as m0001 } from './0001-initial.js';

/** Numbered migrations, applied in order, each once, in its own transaction. Never edit a shipped one. */
export const migrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: m0001 },
];
