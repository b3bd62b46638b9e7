/**
 * A hostile or broken Nutcache: plain-http base URLs, huge Retry-After values, endless bodies. The
 * credential-redaction property lives in redaction.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { NutcacheClient, type NutcacheClientConfig } from '../../shared/nutcache/client.ts';
import { NutcacheConfigError, NutcacheThrottledError } from '../../shared/nutcache/errors.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import { credentials, FakeClock, json, ORG, scriptedFetch, text } from './helpers.ts';

const BASE = 'https://nutcache.test/webapi/';
const customer = (id: number) => ({ type: 'customers', id, name: `C${id}`, Status: 0, links: [] });

function clientAt(baseUrl: string, overrides: Partial<NutcacheClientConfig> = {}): NutcacheClient {
  return new NutcacheClient({ baseUrl, organizationGuid: ORG, credentials, ...overrides });
}

describe('plain http base URLs', () => {
  it.each([
    'http://apps.nutcache.com/webapi/',
    'http://10.0.0.5/webapi/',
    'http://[2001:db8::1]/webapi/',
    'http://localhost.evil.example/webapi/',
    'http://127.0.0.1.nip.io/webapi/',
  ])('refuses %s: credentials would travel in clear', (baseUrl) => {
    expect(() => clientAt(baseUrl)).toThrow(NutcacheConfigError);
    expect(() => clientAt(baseUrl)).toThrow(/https/);
  });

  it.each([
    'https://apps.nutcache.com/webapi/',
    'https://10.0.0.5:8443/webapi/',
    'http://127.0.0.1:8080/webapi/',
    'http://127.42.0.9/webapi/',
    'http://localhost:3000/webapi/',
    'http://[::1]:3000/webapi/',
  ])('accepts %s (https anywhere, http on loopback only)', (baseUrl) => {
    expect(() => clientAt(baseUrl)).not.toThrow();
  });
});

describe('a 429 with a huge Retry-After', () => {
  const aYearAhead = (clock: FakeClock) => new Date(clock.now() + 365 * 24 * 3600_000).toUTCString();

  it.each([
    ['86400 seconds', () => '86400'],
    ['an HTTP date a year ahead', aYearAhead],
  ])(
    '(%s) pauses the API key for the maximum wait only, and the request fails with a clear error',
    async (_name, header) => {
      const clock = new FakeClock();
      const limiter = new SlidingWindowLimiter({}, clock);
      const { fetch, requests } = scriptedFetch(
        (_, i) =>
          i === 0 ? text('', 429, { 'retry-after': header(clock) }) : json({ customers: [customer(1)] }),
        clock,
      );
      const client = clientAt(BASE, {
        clock,
        fetch,
        rateLimit: limiter,
        retry: { maxRetryAfterMs: 120_000 },
      });

      const error = await client.getCustomer(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NutcacheThrottledError);
      expect(error).toMatchObject({ status: 429, pausedMs: 120_000 });
      expect((error as Error).message).toMatch(
        /Retry-After of \d+ s is longer than the 120 s the client waits/,
      );
      expect(clock.sleeps).toEqual([]);

      // A warm Lambda's next invocation: the key is usable again after the capped pause, not a day later.
      await client.getCustomer(1);
      expect(requests.map((r) => r.at - (requests[0]?.at ?? 0))).toEqual([0, 120_000]);
    },
  );
});
