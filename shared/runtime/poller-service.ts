/**
 * Polls one configured organization: fetches its credentials, checks the API key's daily Nutcache budget,
 * runs the engine, and, when Nutcache answers 401, fetches the credentials again (bypassing caches: the
 * secret may have been rotated) and polls once more. Shared by the Lambda handler and the CLI; knows
 * nothing of Lambda itself.
 */
import {
  emptyCounts,
  type PollDependencies,
  type PollOptions,
  type PollResult,
  runPoll,
} from '../engine/poll.ts';
import { NutcacheAuthError } from '../nutcache/errors.ts';
import type { NutcacheSecret } from '../nutcache/secret.ts';
import type { CustomerSource } from '../nutcache/types.ts';
import {
  apiKeyId,
  DEFAULT_DAILY_BUDGET,
  expectedPollCost,
  nextPollDelay,
  QuotaGuard,
  type QuotaStore,
} from '../quota/budget.ts';

export interface PollerServiceDeps extends Omit<PollDependencies, 'source'> {
  /** The organization's credentials; `fresh` asks to bypass any cache. */
  getSecret(fresh: boolean): Promise<NutcacheSecret>;
  /**
   * Whether `getSecret(true)` can return newer credentials than `getSecret(false)` (a Secrets Manager
   * secret can; environment variables cannot). When false a 401 is not retried. Default true.
   */
  readonly canRefreshSecret?: boolean;
  /** A Nutcache source for these credentials. */
  createSource(secret: NutcacheSecret): CustomerSource;
  /**
   * When given, each poll is admitted against the API key's daily request budget first. With
   * `intervalMs` (the schedule's rate), polls also back off: after a poll that met 429s, or when the budget
   * runs low, the organization's `notBefore` is set and scheduled polls before it are deferred, until the
   * configured rate fits again (`nextPollDelay`).
   */
  readonly quota?: {
    readonly store: QuotaStore;
    readonly dailyBudget?: number;
    readonly intervalMs?: number;
  };
}

export class OrganizationMismatchError extends Error {
  constructor(expected: string, actual: string) {
    super(`the secret is for organization ${actual}, but the poll is for ${expected}`);
    this.name = 'OrganizationMismatchError';
  }
}

export async function pollWithCredentials(
  deps: PollerServiceDeps,
  options: PollOptions,
): Promise<PollResult> {
  const attempt = async (fresh: boolean): Promise<PollResult> => {
    const secret = await deps.getSecret(fresh);
    if (secret.organizationGuid.toUpperCase() !== options.organizationGuid.toUpperCase()) {
      throw new OrganizationMismatchError(options.organizationGuid, secret.organizationGuid);
    }
    const source = deps.createSource(secret);
    if (!deps.quota) return runPoll({ ...deps, source }, options);

    const guard = new QuotaGuard({
      store: deps.quota.store,
      apiKeyId: apiKeyId(secret.apiKey),
      ...(deps.quota.dailyBudget !== undefined ? { dailyBudget: deps.quota.dailyBudget } : {}),
      clock: deps.clock,
      log: deps.log,
      metrics: deps.metrics,
    });
    const state = await deps.store.getOrgState(options.organizationGuid);
    const startedAt = deps.clock.now();
    // Backing off: a scheduled poll before `notBefore` is deferred (an explicit "sync now", which names
    // its pollId, is not).
    // (A retry after a 401 is not deferred by the back-off its own first attempt may just have set.)
    if (state?.notBefore && state.notBefore > startedAt && options.pollId === undefined && !fresh) {
      deps.metrics.count('PollDeferred');
      deps.log.info('poll deferred: backing off after 429s or a low budget', {
        organizationGuid: options.organizationGuid,
        notBefore: new Date(state.notBefore).toISOString(),
      });
      return deferred(
        options,
        startedAt,
        state.notBefore,
        'backing off (Nutcache answered 429, or the daily budget runs low)',
      );
    }
    const expected = expectedPollCost(state?.lastPages !== undefined ? { lastPages: state.lastPages } : {});
    const admission = await guard.admit(expected, { organizationGuid: options.organizationGuid });
    if (!admission.admitted) {
      return deferred(
        options,
        startedAt,
        admission.plan.resetsAt,
        'the daily Nutcache request budget would be exceeded',
      );
    }
    const requestsBefore = source.requestCount;
    const throttledBefore = source.throttledCount ?? 0;
    // The poll holds its estimate; beyond it, it reserves more of the day's budget in blocks, atomically,
    // so polls sharing the API key can never spend more than the budget between them.
    let reserved = admission.reservation.reserved;
    let extra = 0;
    const block = Math.max(10, Math.ceil(reserved / 2));
    const dailyBudget = deps.quota.dailyBudget ?? DEFAULT_DAILY_BUDGET;
    const keyId = apiKeyId(secret.apiKey);
    const quotaStore = deps.quota.store;
    const budgetGate = async (sent: number): Promise<boolean> => {
      if (sent < reserved) return true;
      const total = await quotaStore.consume(keyId, admission.reservation.day, block);
      // Keep only the part of the block that fits in the budget; give the rest back.
      const over = Math.max(0, total - dailyBudget);
      if (over > 0) await quotaStore.consume(keyId, admission.reservation.day, -Math.min(over, block));
      const granted = block - Math.min(over, block);
      reserved += granted;
      extra += granted;
      return granted > 0;
    };
    let result: PollResult | undefined;
    try {
      result = await runPoll({ ...deps, source }, { ...options, budgetGate });
      return result;
    } finally {
      // settle() replaces the first reservation with what was sent; the blocks reserved since are part of it.
      const usedToday = await admission.reservation.settle(source.requestCount - requestsBefore - extra);
      const intervalMs = deps.quota.intervalMs;
      if (intervalMs !== undefined && result && result.outcome !== 'busy') {
        const now = deps.clock.now();
        const pages = result.counts.pages || state?.lastPages;
        const delay = nextPollDelay({
          configuredIntervalMs: intervalMs,
          recent429s: (source.throttledCount ?? 0) - throttledBefore,
          usedToday,
          ...(deps.quota.dailyBudget !== undefined ? { dailyBudget: deps.quota.dailyBudget } : {}),
          now,
          expectedCost: expectedPollCost(pages !== undefined ? { lastPages: pages } : {}),
        });
        // A tenth of an interval of slack, so the tick that falls on `notBefore` is not skipped by jitter.
        const notBefore = delay.delayMs > intervalMs ? Math.round(now + delay.delayMs - intervalMs / 10) : 0;
        if (notBefore !== 0 || state?.notBefore) {
          await deps.store.updateOrgState(options.organizationGuid, { notBefore });
          deps.log.info(notBefore ? 'polls back off' : 'polls are back at the configured rate', {
            organizationGuid: options.organizationGuid,
            reason: delay.reason,
            ...(notBefore ? { notBefore: new Date(notBefore).toISOString() } : {}),
          });
        }
      }
    }
  };
  const first = await attempt(false);
  if (!(first.failure instanceof NutcacheAuthError) || deps.canRefreshSecret === false) return first;
  deps.log.warn('Nutcache rejected the credentials; fetching the secret again and retrying once', {
    organizationGuid: options.organizationGuid,
  });
  return attempt(true);
}

function deferred(options: PollOptions, now: number, until: number, why: string): PollResult {
  return {
    outcome: 'deferred',
    organizationGuid: options.organizationGuid,
    pollId: options.pollId ?? '',
    pollNumber: 0,
    counts: emptyCounts(),
    nutcacheRequests: 0,
    durationMs: 0,
    publishedEventIds: [],
    listingComplete: false,
    error: `${why}; deferred until ${new Date(until).toISOString()} (now ${new Date(now).toISOString()})`,
  };
}
