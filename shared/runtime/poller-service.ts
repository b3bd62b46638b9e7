/**
 * Polls one configured organization: fetches its credentials, checks the API key's daily Nutcache budget,
 * runs the engine, and, when Nutcache answers 401, fetches the credentials again (bypassing caches: the
 * secret may have been rotated) and polls once more. Shared by the Lambda handler and the CLI; knows
 * nothing of Lambda itself.
 */
import {
  type PollDependencies,
  type PollOptions,
  type PollResult,
  resultOfNoRun,
  runPoll,
} from '../engine/poll.ts';
import { NutcacheAuthError } from '../nutcache/errors.ts';
import type { NutcacheSecret } from '../nutcache/secret.ts';
import type { CustomerSource } from '../nutcache/types.ts';
import {
  apiKeyId,
  expectedPollCost,
  POLL_DEFERRED_METRIC,
  QuotaGuard,
  type QuotaStore,
} from '../quota/budget.ts';
import {
  BlockReservation,
  delayAfterPoll,
  notBeforeAfter,
  scheduledPollDeferral,
  throttlesSince,
} from '../quota/policy.ts';

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
  const first = await pollOnce(deps, options, false);
  if (!(first.failure instanceof NutcacheAuthError) || deps.canRefreshSecret === false) return first;
  deps.log.warn('Nutcache rejected the credentials; fetching the secret again and retrying once', {
    organizationGuid: options.organizationGuid,
  });
  return pollOnce(deps, options, true);
}

/** One attempt: the credentials (`fresh` bypasses caches), then the poll, within the budget when there is one. */
async function pollOnce(deps: PollerServiceDeps, options: PollOptions, fresh: boolean): Promise<PollResult> {
  const secret = await deps.getSecret(fresh);
  if (secret.organizationGuid.toUpperCase() !== options.organizationGuid.toUpperCase()) {
    throw new OrganizationMismatchError(options.organizationGuid, secret.organizationGuid);
  }
  const source = deps.createSource(secret);
  if (!deps.quota) return runPoll({ ...deps, source }, options);
  return pollWithinBudget({
    deps,
    quota: deps.quota,
    options,
    keyId: apiKeyId(secret.apiKey),
    source,
    fresh,
  });
}

interface BudgetedPoll {
  readonly deps: PollerServiceDeps;
  readonly quota: NonNullable<PollerServiceDeps['quota']>;
  readonly options: PollOptions;
  readonly keyId: string;
  readonly source: CustomerSource;
  /** The retry after a 401. */
  readonly fresh: boolean;
}

/** Defers the poll while backing off or when the budget would be exceeded; otherwise polls and settles. */
async function pollWithinBudget(poll: BudgetedPoll): Promise<PollResult> {
  const { deps, quota, options, keyId, source } = poll;
  const guard = new QuotaGuard({
    store: quota.store,
    apiKeyId: keyId,
    ...(quota.dailyBudget !== undefined ? { dailyBudget: quota.dailyBudget } : {}),
    clock: deps.clock,
    log: deps.log,
    metrics: deps.metrics,
  });
  const state = await deps.store.getOrgState(options.organizationGuid);
  const startedAt = deps.clock.now();
  const backingOffUntil = scheduledPollDeferral({
    notBefore: state?.notBefore,
    now: startedAt,
    explicit: options.pollId !== undefined,
    retry: poll.fresh,
  });
  if (backingOffUntil !== undefined) return deferWhileBackingOff(deps, options, startedAt, backingOffUntil);
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
  const throttles = throttlesSince(source);
  const blocks = new BlockReservation({
    store: quota.store,
    apiKeyId: keyId,
    day: admission.reservation.day,
    reserved: admission.reservation.reserved,
    dailyBudget: quota.dailyBudget,
  });
  let result: PollResult | undefined;
  try {
    result = await runPoll({ ...deps, source }, { ...options, budgetGate: blocks.gate });
    return result;
  } finally {
    // settle() replaces the first reservation with what was sent; the blocks reserved since are part of it.
    const usedToday = await admission.reservation.settle(source.requestCount - requestsBefore - blocks.extra);
    if (quota.intervalMs !== undefined && result && result.outcome !== 'busy') {
      await recordBackOff(poll, quota.intervalMs, {
        recent429s: throttles(),
        usedToday,
        pages: result.counts.pages || state?.lastPages,
        previousNotBefore: state?.notBefore,
      });
    }
  }
}

function deferWhileBackingOff(
  deps: PollerServiceDeps,
  options: PollOptions,
  now: number,
  notBefore: number,
): PollResult {
  deps.metrics.count(POLL_DEFERRED_METRIC);
  deps.log.info('poll deferred: backing off after 429s or a low budget', {
    organizationGuid: options.organizationGuid,
    notBefore: new Date(notBefore).toISOString(),
  });
  return deferred(
    options,
    now,
    notBefore,
    'backing off (Nutcache answered 429, or the daily budget runs low)',
  );
}

interface PollOutcomeForBackOff {
  readonly recent429s: number;
  readonly usedToday: number;
  readonly pages: number | undefined;
  readonly previousNotBefore: number | undefined;
}

/** Sets (or clears) the organization's `notBefore` after a poll, so scheduled polls back off or resume. */
async function recordBackOff(
  poll: BudgetedPoll,
  intervalMs: number,
  outcome: PollOutcomeForBackOff,
): Promise<void> {
  const { deps, options } = poll;
  const now = deps.clock.now();
  const delay = delayAfterPoll({
    configuredIntervalMs: intervalMs,
    recent429s: outcome.recent429s,
    usedToday: outcome.usedToday,
    dailyBudget: poll.quota.dailyBudget,
    now,
    pages: outcome.pages,
  });
  const notBefore = notBeforeAfter(delay, intervalMs, now);
  if (notBefore === 0 && !outcome.previousNotBefore) return;
  await deps.store.updateOrgState(options.organizationGuid, { notBefore });
  deps.log.info(notBefore ? 'polls back off' : 'polls are back at the configured rate', {
    organizationGuid: options.organizationGuid,
    reason: delay.reason,
    ...(notBefore ? { notBefore: new Date(notBefore).toISOString() } : {}),
  });
}

function deferred(options: PollOptions, now: number, until: number, why: string): PollResult {
  return {
    ...resultOfNoRun(options, 'deferred', 0),
    error: `${why}; deferred until ${new Date(until).toISOString()} (now ${new Date(now).toISOString()})`,
  };
}
