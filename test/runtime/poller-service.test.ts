/**
 * The poller service between the Lambda/CLI and the engine: credentials fetched again after a 401, and
 * every poll admitted against the API key's daily budget. Nutcache is an in-memory fake here; the store,
 * bus and quota counter are the in-memory adapters.
 */
import { describe, expect, it } from 'vitest';
import { NutcacheAuthError } from '../../shared/nutcache/errors.ts';
import type { NutcacheSecret } from '../../shared/nutcache/secret.ts';
import type { Log } from '../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import { apiKeyId, utcDay } from '../../shared/quota/budget.ts';
import { OrganizationMismatchError, pollWithCredentials } from '../../shared/runtime/poller-service.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { TestClock } from '../support/clock.ts';
import { customer, FakeSource } from '../support/fake-source.ts';
import { MemoryQuotaStore } from '../support/memory-quota-store.ts';
import { RejectingSource } from './fakes.ts';

const ORG = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const silent: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const secret = (apiKey: string): NutcacheSecret => ({
  apiKey,
  username: 'u@example.com',
  password: 'p',
  organizationGuid: ORG,
});

function setup() {
  const clock = new TestClock();
  const good = new FakeSource();
  for (const id of [1, 2, 3]) good.put(customer(id));
  const quota = new MemoryQuotaStore();
  const fetched: boolean[] = [];
  const deps = {
    store: new InMemorySnapshotStore({ clock }),
    bus: new MemoryBus(),
    deadLetters: new MemoryDeadLetterSink(),
    clock,
    log: silent,
    metrics: new RecordingMetrics(),
    /** The cached secret is stale (old key); a fresh read returns the rotated one. */
    getSecret: async (fresh: boolean) => {
      fetched.push(fresh);
      return secret(fresh ? 'new-key' : 'old-key');
    },
    createSource: (s: NutcacheSecret) => (s.apiKey === 'new-key' ? good : new RejectingSource()),
  };
  return { clock, good, quota, fetched, deps };
}

describe('pollWithCredentials', () => {
  it('fetches the secret again after a 401 and polls once more with the new credentials', async () => {
    const { deps, fetched } = setup();
    const result = await pollWithCredentials(deps, { organizationGuid: ORG });
    expect(fetched).toEqual([false, true]);
    expect(result.outcome).toBe('success');
    expect(result.counts.snapshot).toBe(3);
  });

  it('does not poll again when the credentials cannot be refreshed (environment variables)', async () => {
    const { deps, fetched } = setup();
    const result = await pollWithCredentials({ ...deps, canRefreshSecret: false }, { organizationGuid: ORG });
    expect(fetched).toEqual([false]);
    expect(result.failure).toBeInstanceOf(NutcacheAuthError);
  });

  it('refuses a secret that belongs to another organization', async () => {
    const { deps } = setup();
    await expect(
      pollWithCredentials(deps, { organizationGuid: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toBeInstanceOf(OrganizationMismatchError);
  });

  it('defers a poll when the key’s daily budget is spent, without calling Nutcache', async () => {
    const { deps, quota, clock, good } = setup();
    await quota.consume(apiKeyId('new-key'), utcDay(clock.now()), 20_000);
    const result = await pollWithCredentials(
      { ...deps, getSecret: async () => secret('new-key'), quota: { store: quota, dailyBudget: 20_000 } },
      { organizationGuid: ORG },
    );
    expect(result.outcome).toBe('deferred');
    expect(good.requestCount).toBe(0);
    expect(deps.metrics.get('PollDeferred')).toBe(1);
  });

  it('counts what an admitted poll really sent against the key, and caps it at what was left', async () => {
    const { deps, quota, clock, good } = setup();
    const day = utcDay(clock.now());
    await quota.consume(apiKeyId('new-key'), day, 19_996); // 4 left: the estimate (1 page + margin) fits
    good.pageSize = 1; // 3 pages, then 1 more would be over the budget
    for (const id of [4, 5]) good.put(customer(id));
    const result = await pollWithCredentials(
      { ...deps, getSecret: async () => secret('new-key'), quota: { store: quota, dailyBudget: 20_000 } },
      { organizationGuid: ORG },
    );
    expect(result.nutcacheRequests).toBe(4);
    expect(result.outcome).toBe('partial');
    expect(await quota.used(apiKeyId('new-key'), day)).toBe(20_000);
  });
});

describe('backing off', () => {
  const MINUTE = 60_000;

  it('defers scheduled polls after a poll that met 429s, runs an explicit one, and returns to the rate', async () => {
    const { deps, quota, clock, good } = setup();
    const withQuota = {
      ...deps,
      getSecret: async () => secret('new-key'),
      quota: { store: quota, dailyBudget: 20_000, intervalMs: 5 * MINUTE },
    };
    // A poll during which Nutcache answered 429 twice: the next one waits 4 intervals (2 doublings).
    good.put(customer(9));
    const throttled = good.listCustomers.bind(good);
    good.listCustomers = () => {
      good.throttledCount += 2;
      return throttled();
    };
    await pollWithCredentials(withQuota, { organizationGuid: ORG });
    good.listCustomers = throttled;
    const state = await deps.store.getOrgState(ORG);
    expect(state?.notBefore).toBeGreaterThan(clock.now() + 15 * MINUTE);

    clock.advance(5 * MINUTE);
    const scheduled = await pollWithCredentials(withQuota, { organizationGuid: ORG });
    expect(scheduled.outcome).toBe('deferred');
    expect(deps.metrics.get('PollDeferred')).toBe(1);

    const explicit = await pollWithCredentials(withQuota, { organizationGuid: ORG, pollId: 'sync-now-1' });
    expect(explicit.outcome).toBe('success');
    // That poll met no 429: the configured rate is back.
    expect((await deps.store.getOrgState(ORG))?.notBefore).toBeUndefined();
    clock.advance(5 * MINUTE);
    expect((await pollWithCredentials(withQuota, { organizationGuid: ORG })).outcome).toBe('success');
  });
});

describe('the daily budget shared by polls and their retry after a 401', () => {
  it('never lets two organizations sharing a key spend more than the budget between them', async () => {
    const { deps, quota, clock } = setup();
    const day = utcDay(clock.now());
    await quota.consume(apiKeyId('shared-key'), day, 19_990); // 10 requests left today
    const orgs = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    const sources = orgs.map(() => {
      const source = new FakeSource();
      source.pageSize = 1;
      for (let id = 1; id <= 20; id++) source.put(customer(id));
      return source;
    });
    const results = await Promise.all(
      orgs.map((organizationGuid, i) =>
        pollWithCredentials(
          {
            ...deps,
            getSecret: async () => ({ ...secret('shared-key'), organizationGuid }),
            createSource: () => sources[i] as FakeSource,
            quota: { store: quota, dailyBudget: 20_000 },
          },
          { organizationGuid },
        ),
      ),
    );
    const sent = results.reduce((sum, r) => sum + r.nutcacheRequests, 0);
    expect(sent).toBeLessThanOrEqual(10);
    expect(await quota.used(apiKeyId('shared-key'), day)).toBeLessThanOrEqual(20_000);
  });

  it('does not let a 401 retry be deferred by the back-off its own first attempt set', async () => {
    const { deps, quota, clock, fetched } = setup();
    clock.advance(8 * 3_600_000); // 08:00 UTC, budget nearly spent: pacing backs off
    await quota.consume(apiKeyId('old-key'), utcDay(clock.now()), 19_900);
    await quota.consume(apiKeyId('new-key'), utcDay(clock.now()), 19_900);
    const result = await pollWithCredentials(
      { ...deps, quota: { store: quota, dailyBudget: 20_000, intervalMs: 5 * 60_000 } },
      { organizationGuid: ORG },
    );
    expect(fetched).toEqual([false, true]);
    expect(result.outcome).toBe('success');
  });
});
