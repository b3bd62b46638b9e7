import { afterEach, describe, expect, it } from 'vitest';
import { SlidingWindowLimiter } from '../../sandbox/rate-limit.ts';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { basicAuth, get } from './helpers.ts';

describe('sliding-window limiter', () => {
  it('allows 5 in any rolling second and tells when the next one may go', () => {
    const limiter = new SlidingWindowLimiter({ perSecond: 5, perMinute: 200 });
    for (let t = 0; t < 5; t++) expect(limiter.check('k', 1000 + t * 100).allowed).toBe(true);
    const refused = limiter.check('k', 1500);
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1, window: 'second' });
    // The first request (t=1000) leaves the window at t=2000, not before: the window rolls, it is not a bucket.
    expect(limiter.check('k', 1999).allowed).toBe(false);
    expect(limiter.check('k', 2000).allowed).toBe(true);
    expect(limiter.check('k', 2001).allowed).toBe(false);
  });

  it('allows 200 in any rolling minute, even when spread out, and waits for the oldest to leave', () => {
    const limiter = new SlidingWindowLimiter({ perSecond: 5, perMinute: 200 });
    // 4 a second for 50 s = 200 requests, never 5 in one second.
    for (let i = 0; i < 200; i++) expect(limiter.check('k', i * 250).allowed).toBe(true);
    const refused = limiter.check('k', 50_000);
    expect(refused).toMatchObject({ allowed: false, window: 'minute' });
    // The oldest (t=0) leaves at t=60,000: 10 s from now.
    expect(refused.allowed ? 0 : refused.retryAfterSeconds).toBe(10);
    expect(limiter.check('k', 59_999).allowed).toBe(false);
    expect(limiter.check('k', 60_000).allowed).toBe(true);
  });

  it('keeps a separate budget per API key', () => {
    const limiter = new SlidingWindowLimiter({ perSecond: 1, perMinute: null });
    expect(limiter.check('a', 0).allowed).toBe(true);
    expect(limiter.check('a', 10).allowed).toBe(false);
    expect(limiter.check('b', 10).allowed).toBe(true);
  });

  it('enforces nothing when disabled', () => {
    const limiter = new SlidingWindowLimiter(null);
    for (let i = 0; i < 1000; i++) expect(limiter.check('k', 0).allowed).toBe(true);
    expect(limiter.enforced).toBe(false);
    expect(limiter.peakPerSecond).toBe(1000);
  });

  it('enforces an optional daily limit', () => {
    const limiter = new SlidingWindowLimiter({ perSecond: null, perMinute: null, perDay: 3 });
    for (let i = 0; i < 3; i++) expect(limiter.check('k', i * 1000).allowed).toBe(true);
    expect(limiter.check('k', 3600_000)).toMatchObject({ allowed: false, window: 'day' });
    expect(limiter.check('k', 86_400_000).allowed).toBe(true);
  });

  it('refuses invalid limits', () => {
    expect(() => new SlidingWindowLimiter({ perSecond: 0 })).toThrow(/positive integer/);
    expect(() => new SlidingWindowLimiter({ perMinute: 2.5 })).toThrow(/positive integer/);
  });
});

describe('sandbox rate limiting (injected clock)', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('answers the 6th request in one second 429 with Retry-After, and counts it as a violation', async () => {
    let now = 0;
    sandbox = await startSandbox({ clock: { now: () => now } });
    for (let i = 0; i < 5; i++) expect((await get(sandbox, 'customers')).status).toBe(200);
    const refused = await get(sandbox, 'customers');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(sandbox.stats).toMatchObject({ rateLimitViolations: 1, throttled: 1, peakPerSecond: 5 });
    now = 1000;
    expect((await get(sandbox, 'customers')).status).toBe(200);
    expect(sandbox.stats.rateLimitViolations).toBe(1);
  });

  it('answers 429 for the 201st request in a minute even at 4 a second', async () => {
    let now = 0;
    sandbox = await startSandbox({ clock: { now: () => now } });
    for (let i = 0; i < 200; i++) {
      now = i * 250;
      expect((await get(sandbox, 'customers?limit=1')).status).toBe(200);
    }
    now = 50_000;
    const refused = await get(sandbox, 'customers?limit=1');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(sandbox.stats.rateLimitViolations).toBe(1);
    expect(sandbox.stats.peakPerMinute).toBe(200);
  });

  it('counts token requests and every authenticated resource against the same API key', async () => {
    const now = 0;
    sandbox = await startSandbox({ clock: { now: () => now }, rateLimit: { perSecond: 3, perMinute: null } });
    const form = new URLSearchParams({
      grant_type: 'password',
      username: sandbox.credentials.username,
      password: sandbox.credentials.password,
      api_key: sandbox.credentials.apiKey,
    });
    expect((await fetch(new URL('token', sandbox.url), { method: 'POST', body: form })).status).toBe(200);
    expect((await get(sandbox, 'organizations')).status).toBe(200);
    expect((await get(sandbox, 'customers/999')).status).toBe(404);
    expect((await get(sandbox, 'customers/143222')).status).toBe(429);
  });

  it('does not count requests with bad credentials against the key', async () => {
    const now = 0;
    sandbox = await startSandbox({ clock: { now: () => now }, rateLimit: { perSecond: 1, perMinute: null } });
    const bad = basicAuth({ ...sandbox.credentials, password: 'wrong' });
    for (let i = 0; i < 3; i++)
      expect((await get(sandbox, 'customers', { authorization: bad })).status).toBe(401);
    expect((await get(sandbox, 'customers')).status).toBe(200);
  });

  it('limits each API key separately', async () => {
    const now = 0;
    const other = { apiKey: 'K'.repeat(40), username: 'other@example.com', password: 'pw' };
    sandbox = await startSandbox({
      clock: { now: () => now },
      credentials: [{ apiKey: 'J'.repeat(40), username: 'me@example.com', password: 'pw' }, other],
      rateLimit: { perSecond: 1, perMinute: null },
    });
    expect((await get(sandbox, 'customers')).status).toBe(200);
    expect((await get(sandbox, 'customers')).status).toBe(429);
    expect((await get(sandbox, 'customers', { authorization: basicAuth(other) })).status).toBe(200);
  });

  it('lets tests run flat out when disabled', async () => {
    sandbox = await startSandbox({ rateLimit: null });
    const answers = await Promise.all(Array.from({ length: 30 }, () => get(sandbox as Sandbox, 'customers')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(sandbox.stats.rateLimitViolations).toBe(0);
  });

  it('resets statistics on request, but not the budget already used', async () => {
    const now = 0;
    sandbox = await startSandbox({ clock: { now: () => now }, rateLimit: { perSecond: 1, perMinute: null } });
    await get(sandbox, 'customers');
    await get(sandbox, 'customers');
    expect(sandbox.stats).toMatchObject({ requests: 2, rateLimitViolations: 1 });
    sandbox.resetStats();
    expect(sandbox.stats).toMatchObject({ requests: 0, rateLimitViolations: 0, throttled: 0, byPath: {} });
    expect(sandbox.log).toEqual([]);
    expect((await get(sandbox, 'customers')).status).toBe(429);
  });
});
