import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../ports.ts';

/** Real time. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) return;
    await delay(ms, undefined, signal ? { signal } : undefined);
  },
};

/**
 * A clock tests drive by hand: `sleep` resolves as soon as it is called and advances time by the amount
 * slept, so code that waits (backoff, Retry-After) runs instantly and its waits can be asserted.
 */
export class ManualClock implements Clock {
  #now: number;
  readonly sleeps: number[] = [];

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    if (ms > 0) this.#now += ms;
  }
}
