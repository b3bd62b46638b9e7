/**
 * A virtual clock for a simulation with ONE coroutine per clock (one API-key group: its FIFO message group
 * runs one poll at a time, so nothing else on that key runs meanwhile). A sleep advances time at once by
 * the amount slept, which is exact when nobody else could have run during the wait: the rate limiter's
 * pump, the request latency and the wait for the next message are the only waits, all on that coroutine.
 */
import type { Clock } from '../../shared/ports.ts';

export class VirtualClock implements Clock {
  #now: number;

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (ms > 0) this.#now += ms;
  }

  /** Moves time forward to `at` (never backward). */
  advanceTo(at: number): void {
    if (at > this.#now) this.#now = at;
  }
}
