/**
 * The one fake clock of the test suites. Time is virtual and never really waits; every requested sleep is
 * recorded in `sleeps` so tests can assert the waits the code chose. How `sleep` resolves is chosen per test:
 *
 * - `instant` (default): resolves at once and advances time by the amount slept, so backoff and
 *   Retry-After cost nothing.
 * - `after-io`: first lets pending I/O run (one `setImmediate` turn), then advances; for tests that talk to
 *   a real loopback server while sleeping.
 * - `timeline`: sleeps are timers on a virtual timeline; whenever the work already queued has run (one
 *   `setImmediate` turn), the earliest timer fires and time jumps to it, so concurrent sleeps overlap as
 *   they would in real time.
 */
import type { Clock } from '../../shared/ports.ts';

export type SleepMode = 'instant' | 'after-io' | 'timeline';

export interface TestClockOptions {
  /** Epoch milliseconds at which the clock starts (default 2026-01-01T00:00:00Z). */
  readonly start?: number;
  readonly sleep?: SleepMode;
}

interface Timer {
  readonly wakeAt: number;
  readonly seq: number;
  readonly fire: () => void;
}

export const DEFAULT_START = Date.parse('2026-01-01T00:00:00Z');

export class TestClock implements Clock {
  readonly sleeps: number[] = [];
  readonly mode: SleepMode;
  #now: number;
  readonly #timers: Timer[] = [];
  #seq = 0;
  #ticking = false;

  constructor(options: TestClockOptions = {}) {
    this.#now = options.start ?? DEFAULT_START;
    this.mode = options.sleep ?? 'instant';
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
    if (this.mode === 'timeline') return this.#onTimeline(ms, signal);
    if (this.mode === 'after-io') await new Promise<void>((resolve) => setImmediate(resolve));
    this.#now += Math.max(0, ms);
  }

  #onTimeline(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#timers.indexOf(timer);
        if (i !== -1) this.#timers.splice(i, 1);
        reject(signal?.reason);
      };
      const timer: Timer = {
        wakeAt: this.#now + Math.max(0, ms),
        seq: this.#seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#timers.push(timer);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#ticking) return;
    this.#ticking = true;
    setImmediate(() => {
      this.#ticking = false;
      this.#timers.sort((a, b) => a.wakeAt - b.wakeAt || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) return;
      this.#now = Math.max(this.#now, next.wakeAt);
      next.fire();
      if (this.#timers.length > 0) this.#schedule();
    });
  }
}
