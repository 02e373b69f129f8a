import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newWriteGateMemory, writeGate, clearHeld } from '../../src/shared/write-gate.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Issue 15: on SQLite the listener's intake commits go before processing's next transaction,
// and the listener waits for the lock without blocking its event loop.
describe('write gate (shared/write-gate.ts)', () => {
  it('processing sees a waiting intake commit and waits until it is done', async () => {
    const memory = newWriteGateMemory();
    const listener = writeGate(memory);
    const processing = writeGate(memory); // the other thread's view of the same memory
    assert.equal(processing.wanted(), false);
    await processing.acquire(); // nothing waits: at once
    processing.release();
    await listener.enter();
    await listener.enter(); // two commits waiting
    assert.equal(processing.wanted(), true);
    let cleared = false;
    const waiting = processing.acquire(5000).then(() => { cleared = true; });
    listener.leave();
    await sleep(20);
    assert.equal(cleared, false, 'one commit still waits');
    listener.leave();
    await waiting;
    assert.equal(cleared, true);
    assert.equal(processing.wanted(), false);
    processing.release();
  });

  it('the listener waits, without blocking, while a processing transaction holds the lock', async () => {
    const memory = newWriteGateMemory();
    const listener = writeGate(memory);
    const processing = writeGate(memory);
    await processing.acquire();
    let entered = false;
    const entering = listener.enter(5000).then(() => { entered = true; });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    await sleep(30);
    clearInterval(timer);
    assert.equal(entered, false, 'not while processing holds it');
    assert.ok(ticks >= 3, `the event loop ran meanwhile (${ticks} timer ticks)`);
    assert.equal(processing.wanted(), true, 'processing is told to end its transaction');
    processing.release();
    await entering;
    assert.equal(entered, true);
    listener.leave();
  });

  it('acquire gives way to a waiting commit, and goes on once it is done', async () => {
    const memory = newWriteGateMemory();
    const listener = writeGate(memory);
    const processing = writeGate(memory);
    await listener.enter();
    let acquired = false;
    const acquiring = processing.acquire(5000).then(() => { acquired = true; });
    await sleep(20);
    assert.equal(acquired, false);
    listener.leave();
    await acquiring;
    assert.equal(acquired, true);
    processing.release();
  });

  it('turns: a processing thread that waited goes before the next intake commit, so a steady SMTP load cannot starve it', async () => {
    const memory = newWriteGateMemory();
    const listener = writeGate(memory);
    const processing = writeGate(memory);
    await listener.enter();
    const order: string[] = [];
    const acquiring = processing.acquire(5000).then(() => order.push('processing'));
    await sleep(10);
    listener.leave();
    // The next commit comes at once, in the same turn of the loop, as under load.
    const next = listener.enter(5000).then(() => order.push('listener'));
    await acquiring;
    await sleep(10);
    assert.deepEqual(order, ['processing'], 'the commit waits while the thread holds the lock');
    processing.release();
    await next;
    assert.deepEqual(order, ['processing', 'listener']);
    listener.leave();
  });

  it('never both at once: interleaved commits and transactions (1,000 turns)', async () => {
    const memory = newWriteGateMemory();
    const listener = writeGate(memory);
    const processing = writeGate(memory);
    let inside = 0;
    let overlaps = 0;
    const turn = async (enter: () => Promise<void>, leave: () => void, n: number) => {
      for (let i = 0; i < n; i++) {
        await enter();
        if (++inside > 1) overlaps++;
        await (i % 3 === 0 ? sleep(0) : Promise.resolve());
        inside--;
        leave();
        if (i % 5 === 0) await sleep(0);
      }
    };
    await Promise.all([
      turn(() => listener.enter(5000), () => listener.leave(), 500),
      turn(() => processing.acquire(5000), () => processing.release(), 500),
    ]);
    assert.equal(overlaps, 0);
  });

  it('with two processing threads the listener waits for both; a thread that died holding the lock is cleared by its host', async () => {
    const memory = newWriteGateMemory(2);
    const listener = writeGate(memory);
    const first = writeGate(memory, 0);
    const second = writeGate(memory, 1);
    await first.acquire();
    await second.acquire(); // thread 1 dies here, inside its transaction
    let entered = false;
    const entering = listener.enter(5000).then(() => { entered = true; });
    first.release();
    await sleep(20);
    assert.equal(entered, false, 'thread 1 still holds it');
    const t = Date.now();
    clearHeld(memory, 1); // the host saw thread 1 exit
    await entering;
    assert.ok(Date.now() - t < 1000, 'at once, not after the wait runs out');
    listener.leave();
    // Its replacement starts from a clear slot.
    await writeGate(memory, 1).acquire(100);
    writeGate(memory, 1).release();
    assert.equal(first.wanted(), false);
  });

  it('neither side waits longer than maxMs on a peer that died holding its flag', async () => {
    const memory = newWriteGateMemory();
    const g = writeGate(memory);
    await g.enter(); // a listener that never leaves
    let t = Date.now();
    await writeGate(memory).acquire(50);
    assert.ok(Date.now() - t < 1000, 'processing goes on');
    const fresh = newWriteGateMemory();
    await writeGate(fresh).acquire(); // a processing thread that never releases
    t = Date.now();
    await writeGate(fresh).enter(50);
    assert.ok(Date.now() - t < 1000, 'the listener goes on (SQLite\'s busy timeout then guards the lock)');
  });
});
