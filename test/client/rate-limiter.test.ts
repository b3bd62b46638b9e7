import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NutcacheConfigError, NutcacheDeadlineError } from '../../shared/nutcache/errors.ts';
import {
  apiKeyFingerprint,
  limiterForApiKey,
  registeredFingerprints,
  SlidingWindowLimiter,
} from '../../shared/nutcache/rate-limiter.ts';
import { clientClock } from './helpers.ts';

/** Largest number of starts found in any window [t, t + lengthMs) over sorted start times. */
function busiestWindow(starts: readonly number[], lengthMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < starts.length; hi++) {
    while ((starts[hi] as number) - (starts[lo] as number) >= lengthMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('SlidingWindowLimiter', () => {
  it('never lets more than 4 requests start in any second nor 180 in any minute, over 500 queued acquisitions', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({}, clock);
    const starts: number[] = [];
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        limiter.acquire().then(() => {
          starts.push(clock.now());
          order.push(i);
        }),
      ),
    );
    expect(starts).toHaveLength(500);
    expect(busiestWindow(starts, 1_000)).toBe(4);
    expect(busiestWindow(starts, 60_000)).toBe(180);
    // FIFO: served in the order they asked.
    expect(order).toEqual(Array.from({ length: 500 }, (_, i) => i));
    // Not slower than needed: the 181st start comes exactly one minute after the first.
    expect((starts[180] as number) - (starts[0] as number)).toBe(60_000);
    expect((starts[4] as number) - (starts[0] as number)).toBe(1_000);
  });

  it('holds both windows for any limits and arrival pattern (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: 1, maxLength: 150 }),
        async (perSecond, perMinute, gaps) => {
          const clock = clientClock();
          const limiter = new SlidingWindowLimiter({ perSecond, perMinute }, clock);
          const starts: number[] = [];
          const pending: Promise<void>[] = [];
          for (const gap of gaps) {
            // Let grants already made be recorded before time moves on.
            await new Promise((resolve) => setImmediate(resolve));
            clock.advance(gap);
            // Half of the arrivals queue up behind others, half wait for their grant.
            const p = limiter.acquire().then(() => {
              starts.push(clock.now());
            });
            if (gap % 2 === 0) await p;
            else pending.push(p);
          }
          await Promise.all(pending);
          expect(starts).toHaveLength(gaps.length);
          expect(busiestWindow(starts, 1_000)).toBeLessThanOrEqual(perSecond);
          expect(busiestWindow(starts, 60_000)).toBeLessThanOrEqual(perMinute);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('fails at once with NutcacheDeadlineError when the wait would pass the deadline, without using a slot', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({ perSecond: 1, perMinute: 100 }, clock);
    await limiter.acquire();
    const deadline = clock.now() + 500;
    await expect(limiter.acquire({ deadline })).rejects.toBeInstanceOf(NutcacheDeadlineError);
    expect(clock.sleeps).toEqual([]);
    await limiter.acquire();
    expect(limiter.recentStarts).toHaveLength(2);
  });

  it('rejects a queued waiter whose deadline comes before its turn and keeps serving the others', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({ perSecond: 1, perMinute: 100 }, clock);
    const t0 = clock.now();
    await limiter.acquire();
    const a = limiter.acquire();
    const b = limiter.acquire({ deadline: t0 + 1_500 });
    const c = limiter.acquire();
    await a;
    await expect(b).rejects.toBeInstanceOf(NutcacheDeadlineError);
    await c;
    expect(limiter.recentStarts.map((s) => s - t0)).toEqual([0, 1_000, 2_000]);
  });

  it('drops an aborted waiter and serves the next one in its place', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({ perSecond: 1, perMinute: 100 }, clock);
    await limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire({ signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await limiter.acquire();
    expect(limiter.recentStarts).toHaveLength(2);
  });

  it('holds every start until a pause (after a 429) is over', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({}, clock);
    const t0 = clock.now();
    limiter.pauseUntil(t0 + 7_000);
    await limiter.acquire();
    expect(clock.now()).toBe(t0 + 7_000);
  });

  it('rejects limits that are not positive integers', () => {
    expect(() => new SlidingWindowLimiter({ perSecond: 0 })).toThrow(NutcacheConfigError);
    expect(() => new SlidingWindowLimiter({ perMinute: 2.5 })).toThrow(NutcacheConfigError);
  });
});

describe('limiterForApiKey', () => {
  it('shares one limiter per API key and keeps only a SHA-256 of the key', () => {
    const clock = clientClock();
    const a1 = limiterForApiKey('key-A-secret', {}, clock);
    const a2 = limiterForApiKey('key-A-secret', { perSecond: 2 }, clock);
    const b = limiterForApiKey('key-B-secret', {}, clock);
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    const keys = registeredFingerprints(clock);
    expect(keys).toEqual([
      createHash('sha256').update('key-A-secret').digest('hex'),
      apiKeyFingerprint('key-B-secret'),
    ]);
    expect(keys.join()).not.toContain('secret');
  });
});
