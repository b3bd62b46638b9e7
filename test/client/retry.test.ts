import { describe, expect, it } from 'vitest';
import { NutcacheConfigError } from '../../shared/nutcache/errors.ts';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, retryPolicy } from '../../shared/nutcache/retry.ts';

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 6, 9, 0, 0);

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
  });

  it('reads an HTTP date as the time left until it, and 0 for a past date', () => {
    expect(parseRetryAfter(new Date(now + 7_000).toUTCString(), now)).toBe(7_000);
    expect(parseRetryAfter(new Date(now - 7_000).toUTCString(), now)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('draws a full-jitter wait below base · 2^(retry-1), capped by maxDelayMs', () => {
    const policy = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000 });
    expect(backoffDelay(1, policy, () => 0)).toBe(0);
    expect(backoffDelay(1, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
  });
});

describe('retryPolicy', () => {
  it('defaults to 5 attempts and rejects nonsense', () => {
    expect(retryPolicy().maxAttempts).toBe(5);
    expect(retryPolicy({ maxAttempts: undefined })).toEqual(DEFAULT_RETRY);
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(NutcacheConfigError);
    expect(() => retryPolicy({ baseDelayMs: -1 })).toThrow(NutcacheConfigError);
  });
});
