/**
 * Retry policy of the Nutcache client: which failures are retried, and how long to wait before the next
 * attempt (Retry-After when Nutcache sends it, otherwise exponential backoff with full jitter).
 */

import { fullJitterDelay } from '../util/backoff.ts';
import { NutcacheConfigError } from './errors.ts';

export interface RetryOptions {
  /** Attempts in total, the first included (default 5). */
  readonly maxAttempts?: number;
  /** Backoff base: the cap of the first retry's random wait (default 500 ms). */
  readonly baseDelayMs?: number;
  /** Upper bound of a backoff wait (default 20 s). */
  readonly maxDelayMs?: number;
  /**
   * Longest `Retry-After` the client is willing to wait (default 120 s); a longer one ends the request
   * with the 429 error at once rather than sleeping for minutes.
   */
  readonly maxRetryAfterMs?: number;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 120_000,
};

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...stripUndefined(options) };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new NutcacheConfigError(`retry.maxAttempts must be a positive integer, got ${policy.maxAttempts}`);
  }
  for (const name of ['baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    const value = policy[name];
    if (!Number.isFinite(value) || value < 0) {
      throw new NutcacheConfigError(`retry.${name} must be a non-negative number, got ${value}`);
    }
  }
  return policy;
}

function stripUndefined(options: RetryOptions): Partial<RetryPolicy> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/**
 * Full-jitter exponential backoff: a uniformly random wait in [0, min(maxDelay, base · 2^(retry-1))),
 * where `retry` is 1 for the first retry. `random` returns a number in [0, 1).
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  return fullJitterDelay(retry, policy.baseDelayMs, policy.maxDelayMs, random);
}

/**
 * Parses a `Retry-After` header: delta-seconds (`"3"`) or an HTTP date. Returns the wait in ms from
 * `now` (0 when the date is past), or undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  if (!/[a-z]/i.test(value)) return undefined; // an HTTP date names a day or month
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Statuses worth another attempt: throttling and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}
