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
import { apiKeyId, expectedPollCost, QuotaGuard, type QuotaStore } from '../quota/budget.ts';

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
  /** When given, each poll is admitted against the API key's daily request budget first. */
  readonly quota?: { readonly store: QuotaStore; readonly dailyBudget?: number };
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
    const expected = expectedPollCost(state?.lastPages !== undefined ? { lastPages: state.lastPages } : {});
    const admission = await guard.admit(expected, { organizationGuid: options.organizationGuid });
    if (!admission.admitted) return deferred(options, deps.clock.now(), admission.plan.resetsAt);
    const requestsBefore = source.requestCount;
    try {
      // The poll may spend what was left of today's budget, no more (deletion confirmations stop there).
      const allowance = Math.min(
        options.requestAllowance ?? Number.POSITIVE_INFINITY,
        admission.plan.remaining,
      );
      return await runPoll({ ...deps, source }, { ...options, requestAllowance: allowance });
    } finally {
      await admission.reservation.settle(source.requestCount - requestsBefore);
    }
  };
  const first = await attempt(false);
  if (!(first.failure instanceof NutcacheAuthError) || deps.canRefreshSecret === false) return first;
  deps.log.warn('Nutcache rejected the credentials; fetching the secret again and retrying once', {
    organizationGuid: options.organizationGuid,
  });
  return attempt(true);
}

function deferred(options: PollOptions, now: number, resetsAt: number): PollResult {
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
    error: `daily Nutcache request budget would be exceeded; next budget at ${new Date(resetsAt).toISOString()} (now ${new Date(now).toISOString()})`,
  };
}
