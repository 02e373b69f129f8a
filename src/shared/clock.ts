/** Time source injected into I/O code so tests can move the clock (automations, rate windows). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

