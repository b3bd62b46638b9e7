/**
 * The real Nutcache client against the sandbox Nutcache API, over loopback HTTP: paging costs, both auth
 * schemes, every sandbox fault, key casing, page shifts and the rate limits. Every test but the last runs
 * in virtual time (TestClock) or without limits; the last one waits for real.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyCasing } from '../../sandbox/faults.ts';
import { type Sandbox, type SandboxCredentials, startSandbox } from '../../sandbox/server.ts';
import { type CanonicalCustomer, customerHash } from '../../shared/customer.ts';
import { NutcacheClient, type NutcacheClientConfig } from '../../shared/nutcache/client.ts';
import {
  NutcacheAuthError,
  NutcacheError,
  NutcacheHttpError,
  NutcacheNetworkError,
  NutcacheResponseError,
  NutcacheResponseTooLargeError,
} from '../../shared/nutcache/errors.ts';
import { SlidingWindowLimiter as ClientLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { CustomerPage } from '../../shared/nutcache/types.ts';
import type { Log } from '../../shared/ports.ts';
import { TestClock } from '../support/clock.ts';

/** A limiter that never holds a request back (the sandbox's limits are off in these tests). */
function unlimited(clock: TestClock): ClientLimiter {
  return new ClientLimiter({ perSecond: 1_000_000, perMinute: 1_000_000 }, clock);
}

/** A client of `sandbox`, in virtual time, without client-side limits, with small retry waits. */
function clientFor(sandbox: Sandbox, overrides: Partial<NutcacheClientConfig> = {}): NutcacheClient {
  const clock = overrides.clock instanceof TestClock ? overrides.clock : new TestClock();
  return new NutcacheClient({
    baseUrl: sandbox.url,
    organizationGuid: sandbox.organizationGuid,
    credentials: sandbox.credentials,
    clock,
    rateLimit: unlimited(clock),
    random: () => 0.5,
    requestTimeoutMs: 2_000,
    ...overrides,
  });
}

async function collect(
  pages: AsyncIterable<CustomerPage>,
): Promise<{ pages: number; customers: CanonicalCustomer[] }> {
  const customers: CanonicalCustomer[] = [];
  let count = 0;
  for await (const page of pages) {
    count++;
    for (const record of page.records) {
      if (!record.ok) throw new Error(`record ${record.id} rejected: ${record.reason}`);
      customers.push(record.customer);
    }
  }
  return { pages: count, customers };
}

async function failureOf(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected a failure, but it succeeded');
}

describe('client × sandbox: paging costs', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it.each([1, 100, 101, 10_001])('lists %i customers in exactly ceil(N/100) requests', async (n) => {
    sandbox = await startSandbox({ documented: false, generated: n, rateLimit: null });
    const client = clientFor(sandbox);
    const started = performance.now();
    const { pages, customers } = await collect(client.listCustomers());
    const wallMs = performance.now() - started;

    expect(client.requestCount).toBe(Math.ceil(n / 100));
    expect(sandbox.stats.requests).toBe(Math.ceil(n / 100));
    expect(pages).toBe(Math.ceil(n / 100));
    expect(customers.map((c) => c.id)).toEqual(sandbox.list().map((c) => c.id));
    if (n === 10_001) {
      console.log(
        `[client x sandbox] 10,001 customers, no rate limits: ${client.requestCount} requests in ${Math.round(wallMs)} ms wall time`,
      );
    }
  });

  it('lists 10,001 customers at the default limits on both sides with zero violations (virtual time)', async () => {
    const clock = new TestClock();
    // The sandbox enforces Nutcache's 5/s and 200/min on the same virtual clock the client waits on.
    sandbox = await startSandbox({ documented: false, generated: 10_001, clock });
    const client = new NutcacheClient({
      baseUrl: sandbox.url,
      organizationGuid: sandbox.organizationGuid,
      credentials: sandbox.credentials,
      clock, // default client limits: 4/s, 180/min, from the per-key limiter of this clock
    });
    const startedVirtual = clock.now();
    const started = performance.now();
    const { customers } = await collect(client.listCustomers());
    const virtualMs = clock.now() - startedVirtual;

    expect(customers).toHaveLength(10_001);
    expect(client.requestCount).toBe(101);
    expect(sandbox.stats.rateLimitViolations).toBe(0);
    expect(sandbox.stats.peakPerSecond).toBeLessThanOrEqual(4);
    // 4 requests a second: the 101st starts 25 s after the first.
    expect(virtualMs).toBe(25_000);
    console.log(
      `[client x sandbox] 10,001 customers at 4/s, 180/min: 101 requests, ${virtualMs / 1000} s of API time (virtual), ${Math.round(performance.now() - started)} ms wall time, ${sandbox.stats.rateLimitViolations} violations`,
    );
  });

  it('stays under 200 a minute over 250 requests at the client default of 180 a minute (virtual time)', async () => {
    const clock = new TestClock();
    sandbox = await startSandbox({ documented: false, generated: 25_000, clock });
    const client = new NutcacheClient({
      baseUrl: sandbox.url,
      organizationGuid: sandbox.organizationGuid,
      credentials: sandbox.credentials,
      clock,
    });
    const started = clock.now();
    const { customers } = await collect(client.listCustomers());

    expect(customers).toHaveLength(25_000);
    expect(sandbox.stats.rateLimitViolations).toBe(0);
    expect(sandbox.stats.peakPerMinute).toBe(180);
    // 180 in the first minute, the 181st waits for the first to leave the window.
    expect(clock.now() - started).toBeGreaterThanOrEqual(60_000);
  });
});

describe('client × sandbox: authentication', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ generated: 150, rateLimit: null });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
  });

  it('reads with nut-basic', async () => {
    const client = clientFor(sandbox, { authScheme: 'nut-basic' });
    const { customers } = await collect(client.listCustomers());
    expect(customers).toHaveLength(158);
    expect(sandbox.stats.byPath.token ?? 0).toBe(0);
  });

  it('reads with a bearer token fetched once, and fetches a new one when the token expires', async () => {
    sandbox.resetStats();
    const client = clientFor(sandbox, { authScheme: 'bearer' });
    await collect(client.listCustomers());
    expect(sandbox.stats.tokensIssued).toBe(1);
    expect(client.requestCount).toBe(3); // token + 2 pages

    sandbox.tokens.expireAll();
    const again = await client.getCustomer(143222);
    expect(again).toMatchObject({ ok: true, customer: { id: 143222, name: 'Sample client' } });
    expect(sandbox.stats.tokensIssued).toBe(2);
    expect(sandbox.stats.byStatus['401']).toBe(1);

    sandbox.tokens.revoke();
    await collect(client.listCustomers());
    expect(sandbox.stats.tokensIssued).toBe(3);
  });

  it('raises NutcacheAuthError for wrong credentials with either scheme, without retrying', async () => {
    const wrong = { ...sandbox.credentials, password: 'not-the-password' };
    sandbox.resetStats();
    const basic = await failureOf(() => collect(clientFor(sandbox, { credentials: wrong }).listCustomers()));
    expect(basic).toBeInstanceOf(NutcacheAuthError);
    expect((basic as NutcacheAuthError).status).toBe(401);
    const bearer = await failureOf(() =>
      collect(clientFor(sandbox, { credentials: wrong, authScheme: 'bearer' }).listCustomers()),
    );
    expect(bearer).toBeInstanceOf(NutcacheAuthError);
    expect((bearer as NutcacheAuthError).status).toBe(400);
    expect(sandbox.stats.requests).toBe(2);
  });

  it('raises a 403 NutcacheHttpError for an organization the user cannot see', async () => {
    const client = clientFor(sandbox, { organizationGuid: '00000000-0000-0000-0000-000000000001' });
    const error = await failureOf(() => collect(client.listCustomers()));
    expect(error).toBeInstanceOf(NutcacheHttpError);
    expect((error as NutcacheHttpError).status).toBe(403);
  });

  it('reads one customer, gets null for a missing one, and passes include through', async () => {
    const client = clientFor(sandbox);
    expect(await client.getCustomer(143224, { include: ['taxes'] })).toMatchObject({ ok: true });
    expect(await client.getCustomer(1)).toBeNull();
    expect(sandbox.log.at(-2)?.path).toBe('customers/143224?include=taxes');
  });

  it('lists the organizations with their GUID', async () => {
    const orgs = await clientFor(sandbox).listOrganizations();
    expect(orgs).toEqual([{ guid: sandbox.organizationGuid, name: 'Sample organization', id: 1686 }]);
  });
});

describe('client × sandbox: every fault is survived or raises the right typed error', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ documented: false, generated: 350, rateLimit: null });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
    sandbox.resetStats();
  });

  const survives = async (client = clientFor(sandbox)): Promise<NutcacheClient> => {
    const { customers } = await collect(client.listCustomers());
    expect(customers.map((c) => c.id)).toEqual(sandbox.list().map((c) => c.id));
    return client;
  };

  it('waits out a 429 with Retry-After in seconds', async () => {
    const clock = new TestClock();
    sandbox.inject({ kind: 'status', status: 429, retryAfter: 3, page: 2 });
    const client = await survives(clientFor(sandbox, { clock }));
    expect(clock.sleeps).toContain(3_000);
    expect(client.requestCount).toBe(5);
    expect(client.throttledCount).toBe(1);
  });

  it('waits out a 429 with Retry-After as an HTTP date', async () => {
    const clock = new TestClock();
    sandbox.inject({ kind: 'status', status: 429, retryAfter: new Date(clock.now() + 4_000), page: 3 });
    await survives(clientFor(sandbox, { clock }));
    expect(clock.sleeps).toContain(4_000);
  });

  it('gives up on a 429 whose Retry-After is longer than it will wait', async () => {
    sandbox.inject({ kind: 'status', status: 429, retryAfter: 3600, page: 1 });
    const error = await failureOf(() => collect(clientFor(sandbox).listCustomers()));
    expect(error).toBeInstanceOf(NutcacheHttpError);
    expect((error as NutcacheHttpError).status).toBe(429);
  });

  it('aborts an endless page at maxResponseBytes, not retried, and the sandbox stops sending', async () => {
    sandbox.inject({ kind: 'oversized', page: 2, times: Number.POSITIVE_INFINITY });
    const client = clientFor(sandbox, { maxResponseBytes: 1024 * 1024 });
    const started = performance.now();
    const error = await failureOf(() => collect(client.listCustomers()));
    expect(error).toBeInstanceOf(NutcacheResponseTooLargeError);
    expect(error.message).toMatch(
      /GET \/webapi\/customers \(status 200\): body is larger than 1048576 bytes/,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(client.requestCount).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sandbox.stats.oversizedBytesSent).toBeLessThan(8 * 1024 * 1024);
  });

  it('refuses a page announced as 400 MB by its Content-Length without reading it', async () => {
    sandbox.inject({ kind: 'oversized', bytes: 400 * 1024 * 1024, declareLength: true, page: 1 });
    const error = await failureOf(() => collect(clientFor(sandbox).listCustomers()));
    expect(error).toBeInstanceOf(NutcacheResponseTooLargeError);
    expect(error.message).toMatch(/Content-Length 419430400/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sandbox.stats.oversizedBytesSent).toBeLessThan(32 * 1024 * 1024);
  });

  it.each([500, 503])('retries a passing %i and survives', async (status) => {
    sandbox.inject({ kind: 'status', status, page: 2, times: 2 });
    const client = await survives();
    expect(client.requestCount).toBe(6);
  });

  it('raises NutcacheHttpError with the attempts once a 503 outlasts the retries', async () => {
    sandbox.inject({ kind: 'status', status: 503, page: 2, times: Number.POSITIVE_INFINITY });
    const error = await failureOf(() => collect(clientFor(sandbox).listCustomers()));
    expect(error).toBeInstanceOf(NutcacheHttpError);
    expect(error).toMatchObject({ status: 503, attempts: 5 });
  });

  it('retries a slow answer that passes the request timeout, and survives', async () => {
    sandbox.inject({ kind: 'delay', ms: 1_200, page: 2 });
    const client = await survives(clientFor(sandbox, { requestTimeoutMs: 400 }));
    expect(client.requestCount).toBe(5);
  });

  it('raises NutcacheNetworkError (timed out) when every answer is too slow', async () => {
    sandbox.inject({ kind: 'delay', ms: 300, page: 1, times: Number.POSITIVE_INFINITY });
    const client = clientFor(sandbox, { requestTimeoutMs: 60, retry: { maxAttempts: 2 } });
    const error = await failureOf(() => collect(client.listCustomers()));
    expect(error).toBeInstanceOf(NutcacheNetworkError);
    expect(error).toMatchObject({ timedOut: true, attempts: 2 });
  });

  it.each([200, 500])('retries an HTML error page with status %i, and survives', async (status) => {
    sandbox.inject({ kind: 'html', status, page: 3 });
    await survives();
  });

  it('raises NutcacheResponseError naming HTML when every answer is an HTML page', async () => {
    sandbox.inject({ kind: 'html', status: 200, page: 1, times: Number.POSITIVE_INFINITY });
    const error = await failureOf(() => collect(clientFor(sandbox).listCustomers()));
    expect(error).toBeInstanceOf(NutcacheResponseError);
    expect((error as NutcacheResponseError).problem).toMatch(/HTML/);
  });

  it('retries truncated JSON, and raises NutcacheResponseError when it persists', async () => {
    sandbox.inject({ kind: 'truncated', page: 2 });
    await survives();
    sandbox.inject({ kind: 'truncated', page: 1, times: Number.POSITIVE_INFINITY });
    const error = await failureOf(() => collect(clientFor(sandbox).listCustomers()));
    expect(error).toBeInstanceOf(NutcacheResponseError);
    expect((error as NutcacheResponseError).problem).toMatch(/not valid JSON/);
  });

  it('retries a body cut off by a dropped connection', async () => {
    sandbox.inject({ kind: 'truncated', framing: 'abort', page: 4 });
    await survives();
  });

  it('retries a reset connection, and raises NutcacheNetworkError when every attempt is reset', async () => {
    sandbox.inject({ kind: 'reset', page: 2 });
    await survives();
    sandbox.inject({ kind: 'reset', page: 1, times: Number.POSITIVE_INFINITY });
    const error = await failureOf(() => collect(clientFor(sandbox).listCustomers()));
    expect(error).toBeInstanceOf(NutcacheNetworkError);
    expect(error).toMatchObject({ timedOut: false, attempts: 5 });
  });

  it('survives random faults of every kind (seeded)', async () => {
    const always = { times: Number.POSITIVE_INFINITY, probability: 0.1 } as const;
    sandbox.inject({ kind: 'status', status: 503, ...always });
    sandbox.inject({ kind: 'reset', ...always });
    sandbox.inject({ kind: 'truncated', ...always });
    sandbox.inject({ kind: 'html', status: 200, ...always });
    for (let i = 0; i < 3; i++) await survives();
    expect(sandbox.stats.faultsFired).toBeGreaterThan(0);
  });
});

describe('client × sandbox: key casing and page shifts', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ generated: 220, rateLimit: null, seed: 21 });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
    sandbox.setKeyCasing('documented');
    sandbox.reset();
  });

  const hashes = async (): Promise<Map<number, string>> => {
    const { customers } = await collect(clientFor(sandbox).listCustomers());
    return new Map(customers.map((c) => [c.id, customerHash(c)]));
  };

  it('gives identical canonical records, hash for hash, whatever the key casing', async () => {
    const documented = await hashes();
    expect(documented.size).toBe(228);
    const modes: KeyCasing[] = ['lower', 'upper', 'attribute-table', 'pascal', 'mixed', { Notes: 'notes' }];
    for (const mode of modes) {
      sandbox.setKeyCasing(mode);
      expect(await hashes()).toEqual(documented);
    }
  });

  it('still sees a real change under a casing change', async () => {
    const before = await hashes();
    sandbox.setKeyCasing('upper');
    sandbox.update(143222, { notes: 'now with notes' });
    const after = await hashes();
    const changed = [...after].filter(([id, h]) => before.get(id) !== h).map(([id]) => id);
    expect(changed).toEqual([143222]);
  });

  it('misses a customer when one already listed is deleted mid-listing', async () => {
    const ids = sandbox.list().map((c) => c.id);
    const deleted = ids[5] ?? 0;
    const missed = ids[100] ?? 0; // first of page 2, slides to the end of page 1 once page 1 is read
    sandbox.afterPage(1, () => sandbox.remove(deleted));
    const { customers } = await collect(clientFor(sandbox).listCustomers());
    const seen = customers.map((c) => c.id);
    expect(seen).toContain(deleted);
    expect(seen).not.toContain(missed);
    expect(sandbox.get(missed)).toBeDefined();
    expect(seen).toHaveLength(227);
  });

  it('sees a customer twice when one is created at the front mid-listing', async () => {
    const ids = sandbox.list().map((c) => c.id);
    const twice = ids[199] ?? 0; // last of page 2, pushed to the top of page 3
    sandbox.afterPage(2, () => sandbox.create({ id: 7, name: 'Aardvark & Co.' }));
    const { customers } = await collect(clientFor(sandbox).listCustomers());
    const seen = customers.map((c) => c.id);
    expect(seen.filter((id) => id === twice)).toHaveLength(2);
    expect(seen).not.toContain(7);
    expect(seen).toHaveLength(229);
  });
});

describe('client × sandbox: no credential in any error message or log line', () => {
  const secret: SandboxCredentials = {
    apiKey: 'Qk7vZr2LmX9pT4wB8nC1dF6gH3jK5sY0aE2uR7iO',
    username: 'leak.check@example.org',
    password: 'Zq9!long-Secret-Pass',
  };
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ credentials: [secret], rateLimit: null, generated: 150 });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
  });

  it('keeps every form of the credentials and issued tokens out of errors and logs', async () => {
    const lines: string[] = [];
    const record =
      (level: string) =>
      (message: string, ...extra: object[]): void => {
        lines.push(`${level} ${message} ${JSON.stringify(extra)}`);
      };
    const logger: Log = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const errors: Error[] = [];
    const tryRun = async (client: NutcacheClient): Promise<void> => {
      try {
        await collect(client.listCustomers());
      } catch (error) {
        if (!(error instanceof NutcacheError)) throw error;
        errors.push(error);
      }
    };
    const make = (overrides: Partial<NutcacheClientConfig> = {}): NutcacheClient =>
      clientFor(sandbox, { credentials: secret, logger, retry: { maxAttempts: 2 }, ...overrides });
    const wrongPassword = { ...secret, password: 'Wrong!Secret-Pass-2' };

    await tryRun(make({ credentials: wrongPassword }));
    await tryRun(make({ credentials: wrongPassword, authScheme: 'bearer' }));
    for (const scheme of ['nut-basic', 'bearer'] as const) {
      sandbox.inject({ kind: 'status', status: 500, times: 2, body: `boom ${secret.apiKey}` });
      await tryRun(make({ authScheme: scheme }));
      sandbox.inject({ kind: 'html', status: 502, times: 2 });
      await tryRun(make({ authScheme: scheme }));
      sandbox.inject({ kind: 'truncated', times: 2, path: 'customers' });
      await tryRun(make({ authScheme: scheme }));
      sandbox.inject({ kind: 'reset', times: 2, path: 'customers' });
      await tryRun(make({ authScheme: scheme }));
      sandbox.inject({ kind: 'status', status: 429, retryAfter: 9999, path: 'customers' });
      await tryRun(make({ authScheme: scheme }));
      for (const encoding of ['raw', 'percent', 'html', 'base64'] as const) {
        sandbox.inject({ kind: 'reflect', into: 'next-link', encoding, page: 1 });
        await tryRun(make({ authScheme: scheme }));
        sandbox.inject({ kind: 'reflect', into: 'body', encoding, status: 500, times: 2, page: 1 });
        await tryRun(make({ authScheme: scheme }));
      }
    }
    sandbox.inject({ kind: 'truncated', path: 'token', times: 2 });
    await tryRun(make({ authScheme: 'bearer' }));
    sandbox.inject({ kind: 'html', status: 200, path: 'token', times: 2 });
    await tryRun(make({ authScheme: 'bearer' }));

    expect(errors.length).toBeGreaterThanOrEqual(28);
    const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const base64 = (s: string) => Buffer.from(s).toString('base64');
    const raw = [secret.apiKey, secret.username, secret.password, wrongPassword.password];
    const forbidden = [
      ...raw.flatMap((s) => [s, encodeURIComponent(s), html(s), base64(s)]),
      base64(`${secret.apiKey}:${secret.username}:${secret.password}`),
    ];
    const texts = [
      ...errors.map((e) => `${e.name}: ${e.message} ${JSON.stringify(e)} ${e.stack ?? ''}`),
      ...lines,
    ];
    for (const text of texts) {
      for (const s of forbidden) expect(text).not.toContain(s);
    }
  });
});

describe('client × sandbox: real time at the real default limits', () => {
  it('makes 60 requests at the client defaults (4/s, 180/min) with zero violations of 5/s and 200/min', async () => {
    // Real clocks on both sides; own credentials so this client gets its own process-wide limiter.
    const credentials = { apiKey: 'R'.repeat(40), username: 'realtime@example.org', password: 'rt-pass' };
    const sandbox = await startSandbox({ credentials: [credentials], documented: false, generated: 6_000 });
    try {
      const client = new NutcacheClient({
        baseUrl: sandbox.url,
        organizationGuid: sandbox.organizationGuid,
        credentials,
      });
      const started = performance.now();
      const { customers } = await collect(client.listCustomers());
      const wallMs = performance.now() - started;

      expect(customers).toHaveLength(6_000);
      expect(client.requestCount).toBe(60);
      expect(sandbox.stats.requests).toBe(60);
      expect(sandbox.stats.rateLimitViolations).toBe(0);
      expect(sandbox.stats.throttled).toBe(0);
      // The client spaces its starts at 4 a second, but the sandbox counts arrivals: a first request that
      // arrives a few ms late (connection set-up) and a later one that arrives at once can fall into one
      // rolling second with three others. That is what the client's margin (4 of Nutcache's 5) is for.
      expect(sandbox.stats.peakPerSecond).toBeGreaterThanOrEqual(4);
      expect(sandbox.stats.peakPerSecond).toBeLessThanOrEqual(5);
      expect(sandbox.stats.peakPerMinute).toBeLessThanOrEqual(180);
      // 4 a second: the 60th request cannot start before 14 s (less a millisecond of clock rounding).
      expect(wallMs).toBeGreaterThanOrEqual(13_990);
      console.log(
        `[client x sandbox] real time: 60 requests in ${(wallMs / 1000).toFixed(1)} s, peak ${sandbox.stats.peakPerSecond}/s, ${sandbox.stats.rateLimitViolations} violations`,
      );
    } finally {
      await sandbox.close();
    }
  }, 40_000);
});
