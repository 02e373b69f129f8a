/**
 * SQLite has one write lock, and its waits are not fair; worse, better-sqlite3 waits for it
 * synchronously (SQLite's busy handler sleeps on the calling thread, in steps of up to 25 ms),
 * so a listener whose BEGIN waits behind a processing transaction freezes every SMTP session.
 * In serve the two sides agree in memory they share (issue 15):
 * - the listener marks that an intake commit wants the lock, then waits without blocking its
 *   event loop until no processing transaction holds it, and only then begins;
 * - processing marks that it holds the lock before it begins, ends its transaction after the
 *   message in hand when a commit is wanted, and begins the next only when none is.
 * Each side sets its own flag before it reads the other's (sequentially consistent atomics),
 * so at most one of them goes on; when both see the other, processing gives way.
 */
export interface WriteGate {
  /** Listener: an intake commit wants the lock; resolves once no processing transaction holds it (or after maxMs). */
  enter(maxMs?: number): Promise<void>;
  /** Listener: the commit is done. */
  leave(): void;
  /** Processing: whether an intake commit waits (end the transaction after this message). */
  wanted(): boolean;
  /**
   * Processing: before BEGIN; resolves when it may take the lock (no intake commit waits, or
   * one has waited longer than maxMs, so a dead listener cannot stop processing).
   */
  acquire(maxMs?: number): Promise<void>;
  /** Processing: after COMMIT or ROLLBACK. */
  release(): void;
}

/**
 * Cell 0: intake commits waiting. Cell 1: processing threads waiting to begin. Cell 2 + k:
 * processing thread k holds the lock (one cell each, so a dead thread's mark can be cleared).
 */
const WAITING = 0;
const WANTS = 1;
const held = (slot: number) => 2 + slot;
/** How long an intake commit lets a waiting processing thread go first (turns, so neither starves). */
const TURN_MS = 50;

/** The shared memory behind a gate: made by the listener, handed to each of `threads` processing threads. */
export function newWriteGateMemory(threads = 1): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (2 + Math.max(1, threads)));
}

/**
 * The thread host, when processing thread `slot` ended: a thread that died inside a transaction
 * (its connection, and with it SQLite's lock, went with it) must not leave the listener waiting.
 */
export function clearHeld(memory: SharedArrayBuffer, slot: number): void {
  const cells = new Int32Array(memory);
  Atomics.store(cells, held(slot), 0);
  Atomics.notify(cells, held(slot));
}

/** Resolves once cell `at` is 0 or `until` has passed, without blocking the event loop. */
async function whileSet(cells: Int32Array, at: number, until: number): Promise<void> {
  for (let n = Atomics.load(cells, at); n > 0 && Date.now() < until; n = Atomics.load(cells, at)) {
    const r = Atomics.waitAsync(cells, at, n, Math.max(1, until - Date.now()));
    if (!r.async) continue;
    // waitAsync alone does not keep Node's event loop alive: a timer does, for as long.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([r.value, new Promise((resolve) => { timer = setTimeout(resolve, Math.max(1, until - Date.now())); })]);
    clearTimeout(timer);
  }
}

/** One side's view of the gate; a processing thread gives its own slot (its thread index). */
export function writeGate(memory: SharedArrayBuffer, slot = 0): WriteGate {
  const cells = new Int32Array(memory);
  const HELD = held(slot);
  return {
    async enter(maxMs = 1000) {
      // Under a steady SMTP load commits follow each other at once: a processing thread that
      // waits is let in first, for one transaction (it gives way again after MIN_HOLD_MS).
      if (Atomics.load(cells, WANTS) > 0) await whileSet(cells, WANTS, Date.now() + TURN_MS);
      Atomics.add(cells, WAITING, 1);
      const until = Date.now() + maxMs;
      for (let at = held(0); at < cells.length; at++) await whileSet(cells, at, until);
    },
    leave() {
      Atomics.sub(cells, WAITING, 1);
      Atomics.notify(cells, WAITING);
    },
    wanted: () => Atomics.load(cells, WAITING) > 0,
    async acquire(maxMs = 1000) {
      const until = Date.now() + maxMs;
      let wanting = false;
      try {
        for (;;) {
          Atomics.add(cells, HELD, 1);
          if (Atomics.load(cells, WAITING) === 0 || Date.now() >= until) return;
          // An intake commit wants the lock: give way until it is done, and say so, so the
          // listener lets this thread in before its next commit.
          Atomics.sub(cells, HELD, 1);
          Atomics.notify(cells, HELD);
          if (!wanting) Atomics.add(cells, WANTS, 1);
          wanting = true;
          await whileSet(cells, WAITING, until);
        }
      } finally {
        // Only now, holding the mark: the listener waiting on WANTS then waits for this transaction.
        if (wanting) {
          Atomics.sub(cells, WANTS, 1);
          Atomics.notify(cells, WANTS);
        }
      }
    },
    release() {
      Atomics.sub(cells, HELD, 1);
      Atomics.notify(cells, HELD);
    },
  };
}
