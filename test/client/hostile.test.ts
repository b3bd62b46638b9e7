/**
 * A hostile or broken Nutcache: plain-http base URLs, huge Retry-After values, endless bodies. The
 * credential-redaction property lives in redaction.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  NutcacheClient,
  type NutcacheClientConfig,
} from '../../shared/nutcache/client.ts';
import {
  NutcacheConfigError,
  NutcacheResponseTooLargeError,
  NutcacheThrottledError,
} from '../../shared/nutcache/errors.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { TestClock } from '../support/clock.ts';
import { clientClock, credentials, json, loopbackServer, ORG, scriptedFetch, text } from './helpers.ts';

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
  const aYearAhead = (clock: TestClock) => new Date(clock.now() + 365 * 24 * 3600_000).toUTCString();

  it.each([
    ['86400 seconds', () => '86400'],
    ['an HTTP date a year ahead', aYearAhead],
  ])(
    '(%s) pauses the API key for the maximum wait only, and the request fails with a clear error',
    async (_name, header) => {
      const clock = clientClock();
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

/**
 * A loopback server whose every answer is a 200 with an endless chunked body (JSON that never closes). It
 * writes with backpressure and stops once the client goes away; `ceiling` stops it anyway (so that a client
 * without a size cap fails the test by timing out instead of exhausting memory).
 */
async function endlessServer(options: { contentLength?: number; ceiling?: number } = {}) {
  const ceiling = options.ceiling ?? 64 * MiB;
  const sent = { bytes: 0 };
  const chunk = Buffer.alloc(64 * 1024, ' ');
  const server = await loopbackServer((_req, res) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
    res.writeHead(200, headers);
    res.write('{"customers":[');
    const pump = (): void => {
      while (!res.destroyed && sent.bytes < ceiling) {
        sent.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    pump();
  });
  return { ...server, sent };
}

const MiB = 1024 * 1024;

/** Runs `work`, sampling the process's resident memory every 5 ms: the peak growth and the duration. */
async function measured<T>(
  work: () => Promise<T>,
): Promise<{ result: T; peakGrowthMiB: number; ms: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const started = performance.now();
  try {
    const result = await work();
    return { result, peakGrowthMiB: (peak - before) / MiB, ms: performance.now() - started };
  } finally {
    clearInterval(sampler);
  }
}

describe('response size cap', () => {
  it('aborts an endless chunked body as soon as it passes maxResponseBytes, with a clear error', async () => {
    const server = await endlessServer();
    try {
      const client = clientAt(server.baseUrl, { maxResponseBytes: MiB, requestTimeoutMs: 20_000 });
      const { result: error, ms } = await measured(() => client.getCustomer(1).catch((e: unknown) => e));
      expect(error).toBeInstanceOf(NutcacheResponseTooLargeError);
      expect(error).toMatchObject({ status: 200, path: '/webapi/customers/1', limitBytes: MiB });
      expect((error as Error).message).toMatch(
        /GET \/webapi\/customers\/1 \(status 200\): body is larger than 1048576 bytes/,
      );
      expect(client.requestCount).toBe(1); // not retried: the next attempt would be as large
      expect(ms).toBeLessThan(5_000); // long before the request timeout
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(server.sent.bytes).toBeLessThan(8 * MiB); // the server saw the client go away
    } finally {
      await server.close();
    }
  });

  it('keeps memory bounded at the default cap of 16 MiB against an endless body', async () => {
    const server = await endlessServer({ ceiling: 1024 * MiB });
    try {
      const client = clientAt(server.baseUrl, { requestTimeoutMs: 30_000 });
      const {
        result: error,
        peakGrowthMiB,
        ms,
      } = await measured(() => client.getCustomer(1).catch((e: unknown) => e));
      console.log(
        `endless body, default cap: error after ${Math.round(ms)} ms, peak RSS growth ${peakGrowthMiB.toFixed(1)} MiB, server sent ${(server.sent.bytes / MiB).toFixed(1)} MiB`,
      );
      expect(error).toMatchObject({
        name: 'NutcacheResponseTooLargeError',
        limitBytes: DEFAULT_MAX_RESPONSE_BYTES,
      });
      expect(DEFAULT_MAX_RESPONSE_BYTES).toBe(16 * MiB);
      expect(peakGrowthMiB).toBeLessThan(160);
      expect(ms).toBeLessThan(10_000); // long before the request timeout
    } finally {
      await server.close();
    }
  });

  it('refuses a body whose Content-Length already says it is too large, without reading it', async () => {
    const server = await endlessServer({ contentLength: 400 * MiB, ceiling: 4 * MiB });
    try {
      const client = clientAt(server.baseUrl, { maxResponseBytes: 16 * MiB, requestTimeoutMs: 5_000 });
      const error = await client.getCustomer(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NutcacheResponseTooLargeError);
      expect((error as Error).message).toMatch(/Content-Length 419430400/);
    } finally {
      await server.close();
    }
  });

  it('rejects a cap that is not a positive integer', () => {
    for (const maxResponseBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => clientAt(BASE, { maxResponseBytes })).toThrow(NutcacheConfigError);
    }
  });
});
