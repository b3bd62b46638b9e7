/**
 * Client-side rate limiting for Nutcache, whose limits are per API key (5 requests a second, 200 a minute).
 *
 * `SlidingWindowLimiter` keeps the start times of the most recent requests (a sliding log). For each
 * window (1 s with limit `perSecond`, 60 s with limit `perMinute`) a request may start at time `t` only if
 * the n-th most recent start (n = the window's limit) is at least one window length before `t`. That is
 * exact, not an approximation: no interval of 1 s ever holds more than `perSecond` starts and no interval
 * of 60 s more than `perMinute`.
 *
 * Waiters are served strictly first-in first-out by one pump loop. Time comes from the injected `Clock`.
 * One limiter per API key per process: `limiterForApiKey` keeps a registry keyed by a SHA-256 of the key
 * (never the key itself).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../ports.ts';
import { systemClock } from '../util/clock.ts';
import { NutcacheConfigError, NutcacheDeadlineError } from './errors.ts';

export interface RateLimitOptions {
  /** Requests that may start in any 1-second window (default 4; Nutcache allows 5). */
  readonly perSecond?: number;
  /** Requests that may start in any 60-second window (default 180; Nutcache allows 200). */
  readonly perMinute?: number;
}

export const DEFAULT_RATE_LIMIT = { perSecond: 4, perMinute: 180 } as const;

export interface AcquireOptions {
  readonly signal?: AbortSignal;
  /** Epoch ms: fail with NutcacheDeadlineError instead of starting after it. */
  readonly deadline?: number;
}

/** What the client needs from a limiter (so a process-wide or test limiter can be injected). */
export interface RateLimiter {
  /** Resolves when one request may start (and counts that start); FIFO among callers. */
  acquire(options?: AcquireOptions): Promise<void>;
  /** Holds every start until `untilMs` (e.g. after a 429 with Retry-After). */
  pauseUntil(untilMs: number): void;
}

interface Window {
  readonly lengthMs: number;
  readonly limit: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

export class SlidingWindowLimiter implements RateLimiter {
  private readonly windows: readonly Window[];
  private readonly clock: Clock;
  /** Start times, oldest first; only the last `max(limit)` are kept. */
  private readonly starts: number[] = [];
  private readonly keep: number;
  private readonly queue: Waiter[] = [];
  private pausedUntil = 0;
  private pumping = false;
  private pumpSleep: AbortController | undefined;

  constructor(options: RateLimitOptions = {}, clock: Clock = systemClock) {
    const perSecond = options.perSecond ?? DEFAULT_RATE_LIMIT.perSecond;
    const perMinute = options.perMinute ?? DEFAULT_RATE_LIMIT.perMinute;
    for (const [name, value] of [
      ['perSecond', perSecond],
      ['perMinute', perMinute],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new NutcacheConfigError(`rateLimit.${name} must be a positive integer, got ${value}`);
      }
    }
    this.windows = [
      { lengthMs: 1_000, limit: perSecond },
      { lengthMs: 60_000, limit: perMinute },
    ];
    this.keep = Math.max(perSecond, perMinute);
    this.clock = clock;
  }

  /** Requests started so far that still matter to a window (for tests and diagnostics). */
  get recentStarts(): readonly number[] {
    return this.starts;
  }

  acquire(options: AcquireOptions = {}): Promise<void> {
    const { signal, deadline } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (deadline !== undefined && this.clock.now() > deadline) {
      return Promise.reject(new NutcacheDeadlineError('no Nutcache request may start now', deadline));
    }
    const slot = this.nextSlot();
    if (deadline !== undefined && deadline < slot) {
      return Promise.reject(
        new NutcacheDeadlineError(
          `the rate limit would delay this Nutcache request by ${slot - this.clock.now()} ms, past the deadline`,
          deadline,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        deadline,
        signal,
        onAbort: () => {
          this.remove(waiter);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      void this.pump();
    });
  }

  pauseUntil(untilMs: number): void {
    if (untilMs > this.pausedUntil) this.pausedUntil = untilMs;
  }

  /** The earliest time the next request may start. */
  private nextSlot(): number {
    let slot = this.pausedUntil;
    for (const w of this.windows) {
      const n = this.starts.length;
      if (n >= w.limit) {
        const nthMostRecent = this.starts[n - w.limit] as number;
        slot = Math.max(slot, nthMostRecent + w.lengthMs);
      }
    }
    return slot;
  }

  private remove(waiter: Waiter): void {
    const i = this.queue.indexOf(waiter);
    if (i !== -1) this.queue.splice(i, 1);
    if (this.queue.length === 0) this.pumpSleep?.abort();
  }

  private settle(waiter: Waiter): void {
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const now = this.clock.now();
        const slot = this.nextSlot();
        if (now >= slot) {
          const head = this.queue.shift() as Waiter;
          this.settle(head);
          this.starts.push(now);
          if (this.starts.length > this.keep) this.starts.splice(0, this.starts.length - this.keep);
          head.resolve();
          continue;
        }
        // Everyone queued starts at `slot` or later: those whose deadline comes first fail now.
        for (const waiter of [...this.queue]) {
          if (waiter.deadline !== undefined && waiter.deadline < slot) {
            this.remove(waiter);
            this.settle(waiter);
            waiter.reject(
              new NutcacheDeadlineError(
                `the rate limit would delay this Nutcache request by ${slot - now} ms, past the deadline`,
                waiter.deadline,
              ),
            );
          }
        }
        if (this.queue.length === 0) break;
        const sleeper = new AbortController();
        this.pumpSleep = sleeper;
        try {
          await this.clock.sleep(slot - now, sleeper.signal);
        } catch {
          // Woken early because the queue emptied; the loop re-evaluates.
        } finally {
          this.pumpSleep = undefined;
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

/** The registry key of an API key: its SHA-256 (hex). The key itself is never stored. */
export function apiKeyFingerprint(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

/**
 * One limiter per API key and time source. In production every client uses the one `systemClock`
 * (shared/util/clock.ts), so there is one limiter per key; each test clock gets its own.
 */
const registry = new WeakMap<Clock, Map<string, SlidingWindowLimiter>>();

/**
 * The process-wide limiter of an API key. The first caller's `options` fix the limits; later callers
 * with the same key share that limiter whatever options they pass.
 */
export function limiterForApiKey(
  apiKey: string,
  options: RateLimitOptions = {},
  clock: Clock = systemClock,
): SlidingWindowLimiter {
  let byKey = registry.get(clock);
  if (!byKey) {
    byKey = new Map();
    registry.set(clock, byKey);
  }
  const fingerprint = apiKeyFingerprint(apiKey);
  let limiter = byKey.get(fingerprint);
  if (!limiter) {
    limiter = new SlidingWindowLimiter(options, clock);
    byKey.set(fingerprint, limiter);
  }
  return limiter;
}

/** The registry keys in use for a clock (fingerprints only), for tests and diagnostics. */
export function registeredFingerprints(clock: Clock = systemClock): string[] {
  return [...(registry.get(clock)?.keys() ?? [])];
}
