import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newWriteGateMemory, writeGate } from '../../src/shared/write-gate.js';

// Issue 15: on SQLite the listener's intake commits go before processing's next transaction.
describe('write gate (shared/write-gate.ts)', () => {
  it('processing sees a waiting intake commit and waits until it is done', async () => {
    const memory = newWriteGateMemory();
    const listener = writeGate(memory);
    const processing = writeGate(memory); // the other thread's view of the same memory
    assert.equal(processing.wanted(), false);
    await processing.clear(); // nothing waits: at once
    listener.enter();
    listener.enter(); // two commits waiting
    assert.equal(processing.wanted(), true);
    let cleared = false;
    const waiting = processing.clear(5000).then(() => { cleared = true; });
    listener.leave();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(cleared, false, 'one commit still waits');
    listener.leave();
    await waiting;
    assert.equal(cleared, true);
    assert.equal(processing.wanted(), false);
  });

  it('clear() gives up after maxMs, so a listener that died mid-commit cannot stop processing', async () => {
    const g = writeGate(newWriteGateMemory());
    g.enter();
    const t = Date.now();
    await g.clear(50);
    assert.ok(Date.now() - t < 1000);
  });
});
