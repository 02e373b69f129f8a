import { sql as m0001 } from './0001-initial.js';
import { sql as m0002 } from './0002-cc-history.js';
import { sql as m0003 } from './0003-outbox.js';
import { sql as m0004 } from './0004-imap-state.js';
import { sql as m0005 } from './0005-trust.js';
import { sql as m0006 } from './0006-bounded-counts.js';
import { sql as m0007 } from './0007-content-digest.js';
import { sql as m0008 } from './0008-rate-counters-nodes.js';
import { sql as m0009 } from './0009-meta.js';
import { sql as m0010 } from './0010-lanes.js';
import { sql as m0011 } from './0011-suppressions.js';

/** Numbered migrations, applied in order, each once, in its own transaction. Never edit a shipped one. */
export const migrations: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  { version: 1, name: 'initial', sql: m0001 },
  { version: 2, name: 'cc-history', sql: m0002 },
  { version: 3, name: 'outbox', sql: m0003 },
  { version: 4, name: 'imap-state', sql: m0004 },
  { version: 5, name: 'trust', sql: m0005 },
  { version: 6, name: 'bounded-counts', sql: m0006 },
  { version: 7, name: 'content-digest', sql: m0007 },
  { version: 8, name: 'rate-counters-nodes', sql: m0008 },
  { version: 9, name: 'meta', sql: m0009 },
  { version: 10, name: 'lanes', sql: m0010 },
  { version: 11, name: 'suppressions', sql: m0011 },
];
