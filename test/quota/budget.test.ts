import { describe, expect, it } from 'vitest';
import type { Log, MetricsSink } from '../../shared/ports.ts';
import {
  apiKeyId,
  expectedPollCost,
  nextPollDelay,
  nextUtcMidnight,
  planPoll,
  QuotaGuard,
  utcDay,
} from '../../shared/quota/budget.ts';
import { MemoryQuotaStore } from '../support/memory-quota-store.ts';

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const at = (iso: string) => Date.parse(iso);

function recorder() {
  const lines: { level: string; message: string; extra: object[] }[] = [];
  const counts = new Map<string, number>();
  const log: Log = {
    debug: (message, ...extra) => lines.push({ level: 'debug', message, extra }),
    info: (message, ...extra) => lines.push({ level: 'info', message, extra }),
    warn: (message, ...extra) => lines.push({ level: 'warn', message, extra }),
    error: (message, ...extra) => lines.push({ level: 'error', message, extra }),
  };
  const metrics: MetricsSink = {
    count: (name, value = 1) => counts.set(name, (counts.get(name) ?? 0) + value),
    gauge: () => {},
  };
  return { lines, counts, log, metrics };
}

describe('apiKeyId', () => {
  it('derives the same id for the same key, so organizations sharing a key share one budget', () => {
    expect(apiKeyId('0123456789abcdef0123456789abcdef01234567')).toBe(
      apiKeyId('0123456789abcdef0123456789abcdef01234567'),
    );
    expect(apiKeyId('key-one')).not.toBe(apiKeyId('key-two'));
  });

  it('never contains the key itself', () => {
    const key = 'SECRETKEY0123456789';
    const id = apiKeyId(key);
    expect(id).not.toContain(key);
    expect(id).not.toContain(key.slice(0, 8));
    expect(id).toMatch(/^k-[0-9a-f]{32}$/);
  });
});

describe('UTC days', () => {
  it('rolls over at midnight UTC, whatever the local time zone', () => {
    expect(utcDay(at('2026-03-01T23:59:59.999Z'))).toBe('2026-03-01');
    expect(utcDay(at('2026-03-02T00:00:00.000Z'))).toBe('2026-03-02');
    expect(nextUtcMidnight(at('2026-03-01T23:59:59.999Z'))).toBe(at('2026-03-02T00:00:00Z'));
    expect(nextUtcMidnight(at('2026-03-02T00:00:00Z'))).toBe(at('2026-03-03T00:00:00Z'));
  });
});

describe('MemoryQuotaStore', () => {
  it('counts 20 parallel consumptions exactly, each seeing a distinct running total', async () => {
    const store = new MemoryQuotaStore();
    const totals = await Promise.all(
      Array.from({ length: 20 }, () => store.consume('k-test0001', '2026-03-01', 7)),
    );
    expect(await store.used('k-test0001', '2026-03-01')).toBe(140);
    expect([...totals].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 7));
  });

  it('starts a fresh count on the next UTC day and keeps keys apart', async () => {
    const store = new MemoryQuotaStore();
    await store.consume('k-test0001', utcDay(at('2026-03-01T23:59:00Z')), 19_990);
    expect(await store.used('k-test0001', utcDay(at('2026-03-02T00:00:30Z')))).toBe(0);
    expect(await store.used('k-test0002', '2026-03-01')).toBe(0);
    expect(await store.used('k-test0001', '2026-03-01')).toBe(19_990);
  });

  it('rejects a malformed day or a fractional request count', async () => {
    const store = new MemoryQuotaStore();
    await expect(store.consume('k-test0001', '2026-3-1', 1)).rejects.toThrow(/YYYY-MM-DD/);
    await expect(store.consume('k-test0001', '2026-02-30', 1)).rejects.toThrow(/YYYY-MM-DD/);
    await expect(store.consume('k-test0001', '2026-03-01', 1.5)).rejects.toThrow(/whole number/);
  });
});

describe('expectedPollCost', () => {
  it('adds the last run pages, one GET per deletion candidate and a safety margin', () => {
    expect(expectedPollCost({ lastPages: 100, pendingConfirmations: 20 })).toBe(100 + 20 + 6);
    expect(expectedPollCost({ lastPages: 100, pendingConfirmations: 20, safetyMargin: 0 })).toBe(120);
  });

  it('falls back to ceil(customers / 100) pages, and at least one page for a first poll', () => {
    expect(expectedPollCost({ lastKnownCustomers: 10_001, safetyMargin: 0 })).toBe(101);
    expect(expectedPollCost({ safetyMargin: 0 })).toBe(1);
  });
});

describe('planPoll', () => {
  const now = at('2026-03-01T12:00:00Z');

  it('allows a poll whose expected cost fits in what is left today', () => {
    expect(planPoll({ expectedCost: 100, usedToday: 19_900, now })).toMatchObject({
      allowed: true,
      reason: 'within-budget',
      remaining: 100,
      day: '2026-03-01',
    });
  });

  it('defers a poll that would overrun the budget until the UTC reset', () => {
    const plan = planPoll({ expectedCost: 101, usedToday: 19_900, now });
    expect(plan).toMatchObject({ allowed: false, reason: 'would-exceed-budget', remaining: 100 });
    expect(plan.resetsAt).toBe(at('2026-03-02T00:00:00Z'));
  });

  it('keeps the reserve back and reports an exhausted budget', () => {
    expect(planPoll({ expectedCost: 50, usedToday: 900, dailyBudget: 1000, reserve: 60, now }).allowed).toBe(
      false,
    );
    expect(planPoll({ expectedCost: 40, usedToday: 900, dailyBudget: 1000, reserve: 60, now }).allowed).toBe(
      true,
    );
    expect(planPoll({ expectedCost: 1, usedToday: 1000, dailyBudget: 1000, now })).toMatchObject({
      allowed: false,
      reason: 'budget-exhausted',
      remaining: 0,
    });
  });
});

describe('QuotaGuard', () => {
  it('defers a poll that would overrun, with a PollDeferred metric and a log line without the key', async () => {
    const store = new MemoryQuotaStore();
    const rec = recorder();
    const key = 'the-real-api-key-0123456789';
    const guard = new QuotaGuard({
      store,
      apiKeyId: apiKeyId(key),
      dailyBudget: 1000,
      clock: { now: () => at('2026-03-01T12:00:00Z') },
      log: rec.log,
      metrics: rec.metrics,
    });
    await store.consume(apiKeyId(key), '2026-03-01', 950);
    const result = await guard.admit(60, { organizationGuid: 'org-a' });
    expect(result.admitted).toBe(false);
    expect(rec.counts.get('PollDeferred')).toBe(1);
    expect(rec.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(JSON.stringify(rec.lines)).toContain('org-a');
    expect(JSON.stringify(rec.lines)).not.toContain(key);
    // The refused reservation was given back.
    expect(await store.used(apiKeyId(key), '2026-03-01')).toBe(950);
  });

  it('never admits more than the budget between pollers sharing a key, even concurrently', async () => {
    const store = new MemoryQuotaStore();
    const rec = recorder();
    const shared = apiKeyId('shared-key');
    const guards = Array.from(
      { length: 5 },
      () =>
        new QuotaGuard({
          store,
          apiKeyId: shared,
          dailyBudget: 250,
          clock: { now: () => at('2026-03-01T08:00:00Z') },
          log: rec.log,
          metrics: rec.metrics,
        }),
    );
    const results = await Promise.all(guards.map((g, i) => g.admit(100, { organizationGuid: `org-${i}` })));
    expect(results.filter((r) => r.admitted)).toHaveLength(2);
    expect(rec.counts.get('PollDeferred')).toBe(3);
    expect(await store.used(shared, '2026-03-01')).toBe(200);
  });

  it('settles a reservation to the requests really sent', async () => {
    const store = new MemoryQuotaStore();
    const rec = recorder();
    const guard = new QuotaGuard({
      store,
      apiKeyId: apiKeyId('k'),
      clock: { now: () => at('2026-03-01T08:00:00Z') },
      log: rec.log,
      metrics: rec.metrics,
    });
    const result = await guard.admit(110, { organizationGuid: 'org-a' });
    if (!result.admitted) throw new Error('expected the poll to be admitted');
    expect(await result.reservation.settle(103)).toBe(103);
    await expect(result.reservation.settle(103)).rejects.toThrow(/already settled/);
    const second = await guard.admit(110, { organizationGuid: 'org-a' });
    if (!second.admitted) throw new Error('expected the poll to be admitted');
    expect(await second.reservation.settle(125)).toBe(228);
  });
});

describe('nextPollDelay', () => {
  const base = {
    configuredIntervalMs: 5 * MINUTE,
    recent429s: 0,
    usedToday: 0,
    dailyBudget: 20_000,
    now: at('2026-03-01T00:00:00Z'),
    expectedCost: 10,
  };

  it('keeps the configured interval when healthy', () => {
    expect(nextPollDelay(base)).toEqual({ delayMs: 5 * MINUTE, reason: 'configured' });
  });

  it('doubles the interval per recent 429, capped, and returns to the configured rate once they stop', () => {
    expect(nextPollDelay({ ...base, recent429s: 1 })).toEqual({
      delayMs: 10 * MINUTE,
      reason: 'rate-limited',
    });
    expect(nextPollDelay({ ...base, recent429s: 3 })).toEqual({
      delayMs: 40 * MINUTE,
      reason: 'rate-limited',
    });
    expect(nextPollDelay({ ...base, recent429s: 12 }).delayMs).toBe(HOUR);
    expect(nextPollDelay({ ...base, recent429s: 12, maxBackoffMs: 2 * HOUR }).delayMs).toBe(2 * HOUR);
    expect(nextPollDelay({ ...base, recent429s: 0 })).toEqual({ delayMs: 5 * MINUTE, reason: 'configured' });
  });

  it('spreads a low remaining budget over the rest of the UTC day', () => {
    // 18:00 UTC, 6 hours left; 10 polls of 100 still affordable -> one every 36 minutes.
    const delay = nextPollDelay({
      ...base,
      now: at('2026-03-01T18:00:00Z'),
      usedToday: 19_000,
      expectedCost: 100,
    });
    expect(delay).toEqual({ delayMs: 36 * MINUTE, reason: 'budget-paced' });
    // Following that pace never spends more than the budget before midnight.
    expect(Math.ceil((6 * HOUR) / delay.delayMs) * 100).toBeLessThanOrEqual(1000);
  });

  it('waits for midnight UTC when not even one poll is affordable, then recovers', () => {
    const late = at('2026-03-01T22:30:00Z');
    const exhausted = nextPollDelay({ ...base, now: late, usedToday: 19_960, expectedCost: 50 });
    expect(exhausted.reason).toBe('budget-exhausted');
    expect(late + exhausted.delayMs).toBeGreaterThan(at('2026-03-02T00:00:00Z'));
    expect(utcDay(late + exhausted.delayMs)).toBe('2026-03-02');
    // On the new day the counter reads 0 and the configured rate is back (50 × 288 = 14,400 fits).
    expect(nextPollDelay({ ...base, now: late + exhausted.delayMs, usedToday: 0, expectedCost: 50 })).toEqual(
      {
        delayMs: 5 * MINUTE,
        reason: 'configured',
      },
    );
  });

  it('keeps the configured rate for a 10,000-customer organization every 5 minutes only while the budget allows', () => {
    // 101 requests a poll, 288 polls a day is 29,088: from midnight the pacing stretches the interval.
    const d = nextPollDelay({ ...base, expectedCost: 101 });
    expect(d.reason).toBe('budget-paced');
    expect(Math.ceil((24 * HOUR) / d.delayMs) * 101).toBeLessThanOrEqual(20_000);
  });
});
