/**
 * SQLite has one write lock, and its waits are not fair: a processing thread that begins its
 * next transaction the moment it commits keeps the listener's intake commit waiting behind one
 * batch after another. In serve the listener goes first (issue 15): it marks, in memory both
 * threads share, that a commit is waiting; a processing thread ends its transaction after the
 * message in hand and begins the next only when no intake commit waits.
 */
export interface WriteGate {
  /** Listener: an intake commit is about to take the lock … */
  enter(): void;
  /** … and has released it. */
  leave(): void;
  /** Processing: whether an intake commit waits (end the transaction after this message). */
  wanted(): boolean;
  /** Processing: resolves once no intake commit waits (at most `maxMs` later). */
  clear(maxMs?: number): Promise<void>;
}

/** The shared memory behind a gate: made by the listener, handed to each processing thread. */
export function newWriteGateMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

export function writeGate(memory: SharedArrayBuffer): WriteGate {
  const waiting = new Int32Array(memory);
  return {
    enter() { Atomics.add(waiting, 0, 1); },
    leave() {
      Atomics.sub(waiting, 0, 1);
      Atomics.notify(waiting, 0);
    },
    wanted: () => Atomics.load(waiting, 0) > 0,
    async clear(maxMs = 1000) {
      const until = Date.now() + maxMs;
      for (let n = Atomics.load(waiting, 0); n > 0 && Date.now() < until; n = Atomics.load(waiting, 0)) {
        const r = Atomics.waitAsync(waiting, 0, n, Math.max(1, until - Date.now()));
        if (!r.async) continue;
        // waitAsync alone does not keep Node's event loop alive: a timer does, for as long.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([r.value, new Promise((resolve) => { timer = setTimeout(resolve, Math.max(1, until - Date.now())); })]);
        clearTimeout(timer);
      }
    },
  };
}
