import { describe, expect, it } from 'vitest';
import { callsPerDay, checkScheduleBudget } from '../../shared/quota/schedule-check.ts';

describe('checkScheduleBudget', () => {
  it('warns about 10,000 customers every 5 minutes (100 pages × 288 = 28,800 > 20,000) and names 8 minutes', () => {
    const warnings = checkScheduleBudget(
      [{ organizationGuid: 'org-big', rateMinutes: 5, expectedCustomers: 10_000 }],
      20_000,
    );
    expect(warnings).toHaveLength(1);
    const [w] = warnings;
    expect(w).toMatchObject({
      organizationGuid: 'org-big',
      callsPerDay: 28_800,
      dailyBudget: 20_000,
      largestSafeRateMinutes: 8,
    });
    expect(w?.message).toContain('org-big');
    expect(w?.message).toContain('28,800');
    expect(w?.message).toContain('every 8 minutes');
    // 8 fits, 7 does not: 8 is the largest safe rate.
    expect(callsPerDay(10_000, 8)).toBeLessThanOrEqual(20_000);
    expect(callsPerDay(10_000, 7)).toBeGreaterThan(20_000);
  });

  it('says nothing about schedules that fit', () => {
    expect(
      checkScheduleBudget([
        { organizationGuid: 'a', rateMinutes: 5, expectedCustomers: 6_000 },
        { organizationGuid: 'b', rateMinutes: 1, expectedCustomers: 500 },
      ]),
    ).toEqual([]);
  });

  it('adds up organizations sharing an API key group and fits them together', () => {
    const orgs = [
      { organizationGuid: 'a', apiKeyGroup: 'key-1', rateMinutes: 5, expectedCustomers: 5_000 },
      { organizationGuid: 'b', apiKeyGroup: 'key-1', rateMinutes: 5, expectedCustomers: 5_000 },
      { organizationGuid: 'c', apiKeyGroup: 'key-2', rateMinutes: 5, expectedCustomers: 5_000 },
    ];
    const warnings = checkScheduleBudget(orgs, 20_000);
    expect(warnings.map((w) => w.organizationGuid).sort()).toEqual(['a', 'b']);
    expect(warnings[0]?.groupCallsPerDay).toBe(28_800);
    expect(warnings[0]?.message).toContain('key-1');
    const total = warnings.reduce((sum, w) => sum + callsPerDay(5_000, w.largestSafeRateMinutes ?? 0), 0);
    expect(total).toBeLessThanOrEqual(20_000);
  });

  it('says when even one poll a day cannot fit', () => {
    const [w] = checkScheduleBudget([
      { organizationGuid: 'huge', rateMinutes: 60, expectedCustomers: 2_500_000 },
    ]);
    expect(w?.largestSafeRateMinutes).toBeNull();
    expect(w?.message).toMatch(/even one poll a day/);
  });

  it('rejects a non-positive rate', () => {
    expect(() =>
      checkScheduleBudget([{ organizationGuid: 'x', rateMinutes: 0, expectedCustomers: 1 }]),
    ).toThrow(/rateMinutes/);
  });
});
