import type { Clock } from '../../src/shared/clock.js';

/** Real time plus an offset the test moves forward: the whole daemon sees the same moved time. */
export class MovableClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
