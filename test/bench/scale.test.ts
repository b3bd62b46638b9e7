import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { auditKey, peakInWindow, slidingWindowViolations } from '../../bench/scale/audit.ts';
import { DEFAULT_SCALE_OPTIONS, runScale } from '../../bench/scale/index.ts';
import { ALLOWED_INTERVALS, designedSchedule, keyInterval } from '../../bench/scale/schedule.ts';
import type { ScaleOptions } from '../../bench/scale/simulate.ts';
import type { SimOrganization } from '../../bench/scale/workload.ts';
import { callsPerDay } from '../../shared/quota/schedule-check.ts';

const HOUR = 3_600_000;

/** 50 organizations over 5 keys for 2 simulated hours (`hours` for more). */
function small(limiter: ScaleOptions['limiter'], hours = 2): ScaleOptions {
  return {
    ...DEFAULT_SCALE_OPTIONS,
    workload: { ...DEFAULT_SCALE_OPTIONS.workload, organizations: 50, apiKeys: 5 },
    durationMs: hours * HOUR,
    limiter,
  };
}

describe('the sliding-window audit', () => {
  it('counts a sixth request inside one second as a violation, wherever the second starts', () => {
    const starts = [0, 100, 200, 300, 400, 999];
    expect(slidingWindowViolations(starts, 5, 1_000)).toBe(1);
    expect(peakInWindow(starts, 1_000)).toBe(6);
    // Five requests in any second, six over exactly one second: no window of 1 s holds six.
    expect(slidingWindowViolations([0, 100, 200, 300, 400, 1_000], 5, 1_000)).toBe(0);
  });

  it('counts requests beyond the daily budget, per UTC day', () => {
    const day = Date.parse('2026-03-02T00:00:00Z');
    const audit = auditKey([day + 1, day + 2, day + 3, day + 86_400_000], 2);
    expect(audit.budgetOverrun).toBe(1);
    expect(audit.maxDayRequests).toBe(3);
  });
});

describe('the interval of a key', () => {
  const org = (n: number, customers: number): SimOrganization => ({
    organizationGuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    customers,
    key: 0,
  });

  it('is the smallest allowed interval whose polls fit the daily budget', () => {
    // 200 pages every 15 minutes: 19,200 requests a day; two such organizations need 30 minutes.
    expect(keyInterval([org(1, 20_000)], 20_000)).toBe(15);
    expect(keyInterval([org(1, 20_000), org(2, 20_000)], 20_000)).toBe(30);
    // 150 + 120 + 8 + 1 pages a round: 26,784 requests a day every 15 minutes, 13,392 every 30.
    const members = [org(1, 15_000), org(2, 12_000), org(3, 800), org(4, 40)];
    const every = keyInterval(members, 20_000) as number;
    expect(every).toBe(30);
    const perDay = (minutes: number) => members.reduce((s, o) => s + callsPerDay(o.customers, minutes), 0);
    expect(perDay(every)).toBeLessThanOrEqual(20_000);
    const shorter = ALLOWED_INTERVALS.filter((i) => i < every).at(-1) as number;
    expect(perDay(shorter)).toBeGreaterThan(20_000);
  });

  it('is undefined when even one poll a day each does not fit', () => {
    const many = Array.from({ length: 120 }, (_, i) => org(i, 20_000));
    expect(keyInterval(many, 20_000)).toBeUndefined();
  });
});

describe('the simulated schedule', () => {
  it("is the registry's CreateSchedule input: rate, flexible window of a twentieth, the key's message group", () => {
    const org = { organizationGuid: '00000000-0000-4000-8000-000000000001', customers: 500, key: 7 };
    expect(designedSchedule(org, 60)).toEqual({
      everyMinutes: 60,
      windowMinutes: 3,
      messageGroupId: 'key-0007',
    });
    expect(designedSchedule(org, 15).windowMinutes).toBe(1);
    expect(designedSchedule(org, 60, 10).windowMinutes).toBe(6);
  });
});

describe('the scale scenario on a small instance (50 organizations, 5 keys, 2 hours)', () => {
  it('with the real rate limiter: no rate-limit violation, no budget overrun, polls on time', async () => {
    const { aggregate } = await runScale(small('real'));
    expect(aggregate.organizations).toBe(50);
    expect(aggregate.polls).toBeGreaterThan(100);
    expect(aggregate.requests).toBeGreaterThan(1_000);
    expect(aggregate.violations).toEqual({ '5/s': 0, '200/min': 0 });
    expect(aggregate.peaks['200/min']).toBeLessThanOrEqual(200);
    expect(aggregate.budgetOverrun).toBe(0);
    expect(aggregate.deferred).toBe(0);
    expect((aggregate.polls - aggregate.late) / aggregate.polls).toBeGreaterThanOrEqual(0.99);
    // Every poll costs one Scheduler invocation, one message sent, received and deleted.
    expect(aggregate.meter.schedulerInvocations).toBe(aggregate.polls);
    expect(aggregate.meter.sqsDelete).toBe(aggregate.polls);
  });

  it('catches a deliberately broken (fixed-window) limiter', async () => {
    // 4 hours: with the window of a twentieth, the first 2 hours of this seed happen not to bunch a key's
    // polls enough for the broken limiter to pass 200 requests in a sliding minute; 4 hours do.
    const { aggregate } = await runScale(small('fixed-window', 4));
    expect(aggregate.violations['200/min']).toBeGreaterThan(0);
    expect(aggregate.peaks['200/min']).toBeGreaterThan(200);
    expect(aggregate.keysWithViolations).toBeGreaterThan(0);
  });

  it('with instant answers: the real limiter holds 5/s where the broken one bursts across a second', async () => {
    const real = await runScale({ ...small('real'), latencyMs: 0 });
    expect(real.aggregate.peaks['5/s']).toBe(4);
    expect(real.aggregate.violations).toEqual({ '5/s': 0, '200/min': 0 });
    const broken = await runScale({ ...small('fixed-window'), latencyMs: 0 });
    expect(broken.aggregate.violations['5/s']).toBeGreaterThan(0);
    expect(broken.aggregate.peaks['5/s']).toBeGreaterThan(5);
  });

  it('gives the same figures for the same seed', async () => {
    const [a, b] = [await runScale(small('real')), await runScale(small('real'))];
    expect([b.aggregate.polls, b.aggregate.requests, b.aggregate.late, b.aggregate.meter]).toEqual([
      a.aggregate.polls,
      a.aggregate.requests,
      a.aggregate.late,
      a.aggregate.meter,
    ]);
  });
});

describe('npm run bench -- --scenario scale', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  function bench(...extra: string[]) {
    const dir = mkdtempSync(join(tmpdir(), 'scale-bench-'));
    const out = join(dir, 'scale.json');
    try {
      const hours = extra.includes('--hours') ? [] : ['--hours', '2'];
      const args = ['--scenario', 'scale', '--orgs', '50', '--keys', '5', ...hours, '--out', out];
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args, ...extra], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
      const json =
        run.status === null ? undefined : (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>);
      return { ...run, json };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('prints the targets met and writes the figures', () => {
    const run = bench();
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ {2}met {2}polls on time/m);
    expect(run.stdout).toMatch(/^ {2}met {2}rate-limit violations per key .*5\/s: 0 violating windows/m);
    expect(run.stdout).toMatch(/Cost per organization per month/);
    expect(run.json).toMatchObject({ organizations: 50, keys: 5, budgetOverrun: 0 });
  }, 90_000);

  it('fails, naming the missed target, with the broken limiter', () => {
    const run = bench('--limiter', 'fixed-window', '--hours', '4');
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^ {2}MISSED {2}rate-limit violations per key/m);
  }, 90_000);
});
