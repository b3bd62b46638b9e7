import { describe, expect, it } from 'vitest';
import { NutcacheClient, type NutcacheClientConfig } from '../../shared/nutcache/client.ts';
import {
  EXCERPT_LENGTH,
  NutcacheAuthError,
  NutcacheConfigError,
  NutcacheDeadlineError,
  NutcacheHttpError,
  NutcacheNetworkError,
  NutcachePagingError,
  NutcacheResponseError,
} from '../../shared/nutcache/errors.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import type { CustomerPage } from '../../shared/nutcache/types.ts';
import { USER_AGENT } from '../../shared/version.ts';
import { seedListResponse } from './fixtures/seed-customers.ts';
import {
  clientClock,
  credentials,
  type Handler,
  json,
  loopbackServer,
  ORG,
  recordingLog,
  scriptedFetch,
  text,
} from './helpers.ts';

const BASE = 'https://nutcache.test/webapi/';
const basicToken = Buffer.from(
  `${credentials.apiKey}:${credentials.username}:${credentials.password}`,
).toString('base64');

function setup(handler: Handler, overrides: Partial<NutcacheClientConfig> = {}) {
  const clock = clientClock();
  const { fetch, requests } = scriptedFetch(handler, clock);
  const log = recordingLog();
  const client = new NutcacheClient({
    baseUrl: BASE,
    organizationGuid: ORG,
    credentials,
    clock,
    fetch,
    logger: log,
    random: () => 0.5,
    ...overrides,
  });
  return { client, clock, requests, log };
}

async function collect(pages: AsyncIterable<CustomerPage>): Promise<CustomerPage[]> {
  const out: CustomerPage[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

const customer = (id: number) => ({ type: 'customers', id, name: `C${id}`, Status: 0, links: [] });
const page = (ids: number[], next?: string, extraLinks: object[] = []) =>
  json({
    links: [...extraLinks, ...(next ? [{ href: next, rel: 'navigation-next', type: 'GET' }] : [])],
    customers: ids.map(customer),
  });

describe('NutcacheClient requests', () => {
  it('sends Authorization, api-version, OrganizationGuid, Accept and User-Agent over real HTTP', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const server = await loopbackServer((req, res) => {
      seen.push({ ...req.headers, url: req.url, method: req.method });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ customers: [customer(1)] }));
    });
    try {
      const client = new NutcacheClient({ baseUrl: server.baseUrl, organizationGuid: ORG, credentials });
      const pages = await collect(client.listCustomers());
      expect(pages).toHaveLength(1);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        method: 'GET',
        url: '/webapi/customers?limit=100&page=1',
        authorization: `nut-basic ${basicToken}`,
        'api-version': '3',
        organizationguid: ORG,
        accept: 'application/json',
        'user-agent': USER_AGENT,
      });
      expect(USER_AGENT).toBe('nutcache-cdc/0.1.0 (+https://github.com/nutcache-cdc)');
      expect(client.requestCount).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('defaults to the production base URL', async () => {
    const { client, requests } = setup(() => page([1]), { baseUrl: undefined });
    await collect(client.listCustomers({ limit: 10 }));
    expect(requests[0]?.url.href).toBe('https://apps.nutcache.com/webapi/customers?limit=10&page=1');
  });

  it('refuses a base URL carrying credentials or an invalid page size', () => {
    expect(() => new NutcacheClient({ baseUrl: 'https://u:p@h/webapi/', credentials })).toThrow(
      NutcacheConfigError,
    );
    const { client, requests } = setup(() => page([1]));
    for (const limit of [0, 101, 2.5, Number.NaN]) {
      expect(() => client.listCustomers({ limit })).toThrow(NutcacheConfigError);
    }
    expect(requests).toHaveLength(0);
  });
});

describe('NutcacheClient bearer authentication', () => {
  const tokenAnswer = (n: number, expiresIn = 1_209_599) =>
    json({ access_token: `tok-${n}-secretvalue`, token_type: 'bearer', expires_in: expiresIn });

  it('fetches a token with the password grant, then reuses it until shortly before it expires', async () => {
    let tokens = 0;
    const { client, clock, requests } = setup(
      (r) =>
        r.url.pathname.endsWith('/token') ? tokenAnswer(++tokens, 3_600) : json({ customers: [customer(9)] }),
      { authScheme: 'bearer' },
    );
    await client.getCustomer(9);
    await client.getCustomer(9);
    clock.advance(3_600_000 - 61_000);
    await client.getCustomer(9);
    clock.advance(2_000);
    await client.getCustomer(9);

    expect(requests.map((r) => r.url.pathname)).toEqual([
      '/webapi/token',
      '/webapi/customers/9',
      '/webapi/customers/9',
      '/webapi/customers/9',
      '/webapi/token',
      '/webapi/customers/9',
    ]);
    const tokenRequest = requests[0];
    expect(tokenRequest?.method).toBe('POST');
    expect(tokenRequest?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(tokenRequest?.headers.has('authorization')).toBe(false);
    expect(Object.fromEntries(new URLSearchParams(tokenRequest?.body))).toEqual({
      grant_type: 'password',
      username: credentials.username,
      password: credentials.password,
      api_key: credentials.apiKey,
    });
    expect(requests[1]?.headers.get('authorization')).toBe('bearer tok-1-secretvalue');
    expect(requests[5]?.headers.get('authorization')).toBe('bearer tok-2-secretvalue');
    expect(client.requestCount).toBe(6);
  });

  it('fetches a new token once when Nutcache answers 401, then succeeds', async () => {
    let tokens = 0;
    const { client, requests } = setup(
      (r) => {
        if (r.url.pathname.endsWith('/token')) return tokenAnswer(++tokens);
        return r.headers.get('authorization') === 'bearer tok-1-secretvalue'
          ? text('expired', 401)
          : json({ customers: [customer(9)] });
      },
      { authScheme: 'bearer' },
    );
    const result = await client.getCustomer(9);
    expect(result?.ok).toBe(true);
    expect(requests.map((r) => r.url.pathname.split('/').pop())).toEqual(['token', '9', 'token', '9']);
  });

  it('does not loop when the new token is refused too: NutcacheAuthError after one refetch', async () => {
    let tokens = 0;
    const { client, requests } = setup(
      (r) => (r.url.pathname.endsWith('/token') ? tokenAnswer(++tokens) : text('no', 401)),
      { authScheme: 'bearer' },
    );
    const error = await client.getCustomer(9).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheAuthError);
    expect((error as NutcacheAuthError).status).toBe(401);
    expect(requests).toHaveLength(4);
  });

  it('shares one token request between concurrent calls', async () => {
    const { client, requests } = setup(
      (r) => (r.url.pathname.endsWith('/token') ? tokenAnswer(1) : json({ customers: [customer(9)] })),
      { authScheme: 'bearer' },
    );
    await Promise.all([client.getCustomer(9), client.getCustomer(9), client.getCustomer(9)]);
    expect(requests.filter((r) => r.url.pathname.endsWith('/token'))).toHaveLength(1);
  });

  it('raises NutcacheAuthError when the token request is refused, without retrying it', async () => {
    const { client, requests } = setup(() => json({ error: 'invalid_grant' }, 400), { authScheme: 'bearer' });
    await expect(client.getCustomer(9)).rejects.toBeInstanceOf(NutcacheAuthError);
    expect(requests).toHaveLength(1);
  });
});

describe('NutcacheClient paging', () => {
  it('follows relative navigation-next hrefs against the base URL and ignores navigation-prev(ious)', async () => {
    const { client, requests } = setup((r) => {
      const n = Number(r.url.searchParams.get('page'));
      const prev = [
        { href: 'customers?limit=2&page=1', rel: 'navigation-prev' },
        { href: 'customers?limit=2&page=1', rel: 'navigation-previous' },
      ];
      if (n === 1) return page([1, 2], 'customers?limit=2&page=2');
      if (n === 2) return page([3, 4], 'customers?limit=2&page=3', prev);
      return page([5], undefined, prev);
    });
    const pages = await collect(client.listCustomers({ limit: 2 }));
    expect(pages.map((p) => p.pageNumber)).toEqual([1, 2, 3]);
    expect(pages.flatMap((p) => p.records.map((r) => (r.ok ? r.customer.id : -1)))).toEqual([1, 2, 3, 4, 5]);
    expect(requests.map((r) => r.url.href)).toEqual([
      `${BASE}customers?limit=2&page=1`,
      `${BASE}customers?limit=2&page=2`,
      `${BASE}customers?limit=2&page=3`,
    ]);
  });

  it('starts a fresh listing each time the iterable is iterated', async () => {
    const { client, requests } = setup((r) =>
      r.url.searchParams.get('page') === '1' ? page([1], 'customers?limit=100&page=2') : page([2]),
    );
    const listing = client.listCustomers();
    expect(await collect(listing)).toHaveLength(2);
    expect(await collect(listing)).toHaveLength(2);
    expect(requests.map((r) => r.url.searchParams.get('page'))).toEqual(['1', '2', '1', '2']);
  });

  it('accepts an absolute navigation-next on the same host', async () => {
    const { client, requests } = setup((r) =>
      r.url.searchParams.get('page') === '1' ? page([1], `${BASE}customers?limit=100&page=2`) : page([2]),
    );
    const pages = await collect(client.listCustomers());
    expect(pages).toHaveLength(2);
    expect(requests[1]?.url.href).toBe(`${BASE}customers?limit=100&page=2`);
  });

  it('refuses a navigation-next to another host with NutcachePagingError, sending nothing there', async () => {
    const { client, requests } = setup(() => page([1], 'https://evil.example/webapi/customers?page=2'));
    const error = await collect(client.listCustomers()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcachePagingError);
    expect((error as Error).message).toContain('another host (https://evil.example)');
    expect(requests).toHaveLength(1);
  });

  it('stops with NutcachePagingError when navigation-next links back to a page already read', async () => {
    const { client, requests } = setup((r) =>
      r.url.searchParams.get('page') === '1'
        ? page([1], 'customers?limit=100&page=2')
        : page([2], 'customers?limit=100&page=1'),
    );
    const error = await collect(client.listCustomers()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcachePagingError);
    expect((error as NutcachePagingError).pageNumber).toBe(2);
    expect((error as Error).message).toMatch(/paging loop/);
    expect(requests).toHaveLength(2);
  });

  it('stops with NutcachePagingError after maxPages pages', async () => {
    const { client, requests } = setup(
      (r) =>
        page(
          [Number(r.url.searchParams.get('page'))],
          `customers?limit=100&page=${Number(r.url.searchParams.get('page')) + 1}`,
        ),
      { maxPages: 5 },
    );
    await expect(collect(client.listCustomers())).rejects.toThrow(/after 5 pages \(maxPages 5\)/);
    expect(requests).toHaveLength(5);
  });

  it('reports unparseable records in the page without aborting the listing', async () => {
    const { client } = setup(() =>
      json({ customers: [customer(1), { ...customer(2), id: '2' }, { name: 'no id' }, customer(3)] }),
    );
    const [only] = await collect(client.listCustomers());
    expect(
      only?.records.map((r) => (r.ok ? { ok: true, id: r.customer.id } : { ok: false, id: r.id })),
    ).toEqual([
      { ok: true, id: 1 },
      { ok: false, id: 2 },
      { ok: false, id: undefined },
      { ok: true, id: 3 },
    ]);
  });

  it('normalises the seed listing to the same records as normalizeCustomer', async () => {
    const { client } = setup(() => json({ ...seedListResponse, links: [] }));
    const [only] = await collect(client.listCustomers());
    expect(only?.records).toHaveLength(8);
    expect(only?.records.every((r) => r.ok)).toBe(true);
  });

  it('raises NutcacheResponseError on an unexpected envelope', async () => {
    const { client } = setup(() => json({ data: [] }));
    const error = await collect(client.listCustomers()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheResponseError);
    expect((error as Error).message).toBe(
      'Nutcache GET /webapi/customers (status 200): expected a JSON object with a "customers" array; body starts "{\\"data\\":[]}"',
    );
  });
});

describe('NutcacheClient getCustomer and listOrganizations', () => {
  it('unwraps the single customer and passes include through as include=a,b', async () => {
    const { client, requests } = setup(() => json({ customers: [seedListResponse.customers[0]] }));
    const result = await client.getCustomer(143222, { include: ['countries', 'organizations'] });
    expect(result?.ok && result.customer.name).toBe('Sample client');
    expect(requests[0]?.url.pathname).toBe('/webapi/customers/143222');
    expect(requests[0]?.url.search).toBe('?include=countries,organizations');
  });

  it('returns null on 404 without retrying', async () => {
    const { client, requests } = setup(() => text('<html>Not found</html>', 404));
    expect(await client.getCustomer(5)).toBeNull();
    expect(requests).toHaveLength(1);
  });

  it('returns an unparseable record as ok:false instead of throwing', async () => {
    const { client } = setup(() => json({ customers: [{ id: 5, status: 'active' }] }));
    expect(await client.getCustomer(5)).toEqual({
      ok: false,
      id: 5,
      reason: 'status: expected a number or null, got a string',
    });
  });

  it('raises NutcacheResponseError when the answer is for another customer', async () => {
    const { client } = setup(() => json({ customers: [customer(6)] }));
    await expect(client.getCustomer(5)).rejects.toThrow(/asked for customer 5, got customer 6/);
  });

  it('lists organizations with their guid, whatever the key casing, without needing an organization guid', async () => {
    const { client, requests } = setup(
      () =>
        json({
          Organizations: [
            { Guid: ORG, Name: 'Acme', Id: 1686 },
            { guid: 'g-2', name: 'Beta' },
            { name: 'no guid' },
          ],
        }),
      { organizationGuid: undefined },
    );
    expect(await client.listOrganizations()).toEqual([
      { guid: ORG, name: 'Acme', id: 1686 },
      { guid: 'g-2', name: 'Beta' },
    ]);
    expect(requests[0]?.headers.has('organizationguid')).toBe(false);
    expect(() => client.listCustomers()).toThrow(/organizationGuid is required/);
  });
});

describe('NutcacheClient retries', () => {
  it('honours Retry-After in seconds on 429 and counts the throttling', async () => {
    const { client, clock, requests } = setup((_, i) =>
      i === 0 ? text('slow down', 429, { 'retry-after': '3' }) : json({ customers: [customer(1)] }),
    );
    expect((await client.getCustomer(1))?.ok).toBe(true);
    expect(clock.sleeps).toEqual([3_000]);
    expect((requests[1]?.at ?? 0) - (requests[0]?.at ?? 0)).toBe(3_000);
    expect(client.throttledCount).toBe(1);
    expect(client.requestCount).toBe(2);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const clock = clientClock();
    const at = new Date(clock.now() + 7_000).toUTCString();
    const { fetch, requests } = scriptedFetch(
      (_, i) =>
        i === 0 ? text('slow down', 429, { 'retry-after': at }) : json({ customers: [customer(1)] }),
      clock,
    );
    const client = new NutcacheClient({ baseUrl: BASE, organizationGuid: ORG, credentials, clock, fetch });
    await client.getCustomer(1);
    expect(clock.sleeps).toEqual([7_000]);
    expect((requests[1]?.at ?? 0) - (requests[0]?.at ?? 0)).toBe(7_000);
  });

  it('holds the other requests of the same API key during a Retry-After pause', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({}, clock);
    const { fetch, requests } = scriptedFetch(
      (_, i) => (i === 0 ? text('', 429, { 'retry-after': '10' }) : json({ customers: [customer(1)] })),
      clock,
    );
    const config = { baseUrl: BASE, organizationGuid: ORG, credentials, clock, fetch, rateLimit: limiter };
    const a = new NutcacheClient(config);
    const b = new NutcacheClient(config);
    const first = a.getCustomer(1);
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([first, b.getCustomer(1)]);
    expect(requests.map((r) => r.at - (requests[0]?.at ?? 0))).toEqual([0, 10_000, 10_000]);
  });

  it('gives up with NutcacheHttpError 429 when throttling lasts for every attempt', async () => {
    const { client, clock, requests } = setup(() => text('', 429, { 'retry-after': '2' }), {
      retry: { maxAttempts: 3 },
    });
    await expect(client.getCustomer(1)).rejects.toMatchObject({
      name: 'NutcacheHttpError',
      status: 429,
      attempts: 3,
    });
    expect(clock.sleeps).toEqual([2_000, 2_000]);
    expect(requests).toHaveLength(3);
    expect(client.throttledCount).toBe(3);
  });

  it('does not sleep through a Retry-After longer than maxRetryAfterMs', async () => {
    const { client, clock, requests } = setup(() => text('', 429, { 'retry-after': '3600' }));
    await expect(client.getCustomer(1)).rejects.toMatchObject({ status: 429 });
    expect(requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('still holds the API key, for at most maxRetryAfterMs, for a Retry-After it does not wait for itself', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({}, clock);
    const { fetch, requests } = scriptedFetch(
      (_, i) => (i === 0 ? text('', 429, { 'retry-after': '3600' }) : json({ customers: [customer(1)] })),
      clock,
    );
    const client = new NutcacheClient({
      baseUrl: BASE,
      organizationGuid: ORG,
      credentials,
      clock,
      fetch,
      rateLimit: limiter,
    });
    await expect(client.getCustomer(1)).rejects.toMatchObject({ status: 429 });
    await client.getCustomer(1);
    expect(requests.map((r) => r.at - (requests[0]?.at ?? 0))).toEqual([0, 120_000]);
  });

  it('backs off with full jitter on 5xx and succeeds', async () => {
    const { client, clock, requests } = setup(
      (_, i) => (i < 2 ? text('oops', 503) : json({ customers: [customer(1)] })),
      { retry: { baseDelayMs: 1_000, maxDelayMs: 10_000 } },
    );
    expect((await client.getCustomer(1))?.ok).toBe(true);
    // random() = 0.5: half of 1 000, then half of 2 000.
    expect(clock.sleeps).toEqual([500, 1_000]);
    expect(requests).toHaveLength(3);
  });

  it('gives up after maxAttempts 5xx answers with NutcacheHttpError', async () => {
    const { client, requests } = setup(() => text('down', 500));
    const error = await client.getCustomer(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheHttpError);
    expect(error).toMatchObject({ status: 500, attempts: 5 });
    expect((error as Error).message).toBe(
      'Nutcache GET /webapi/customers/1 answered 500 after 5 attempts: "down"',
    );
    expect(requests).toHaveLength(5);
    expect(client.requestCount).toBe(5);
  });

  it.each([400, 403])('does not retry a %i', async (status) => {
    const { client, requests } = setup(() => text('nope', status));
    await expect(client.getCustomer(1)).rejects.toMatchObject({ name: 'NutcacheHttpError', status });
    expect(requests).toHaveLength(1);
  });

  it('raises NutcacheAuthError on 401 with nut-basic, without retrying', async () => {
    const { client, requests } = setup(() => text('who are you', 401));
    await expect(client.getCustomer(1)).rejects.toBeInstanceOf(NutcacheAuthError);
    expect(requests).toHaveLength(1);
  });

  it('retries a request that times out, over real HTTP', async () => {
    let calls = 0;
    const server = await loopbackServer((_req, res) => {
      calls++;
      if (calls === 1) return; // never answers
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ customers: [customer(1)] }));
    });
    try {
      const client = new NutcacheClient({
        baseUrl: server.baseUrl,
        organizationGuid: ORG,
        credentials: { ...credentials, apiKey: 'timeout-test-key' },
        requestTimeoutMs: 150,
        retry: { baseDelayMs: 1 },
      });
      expect((await client.getCustomer(1))?.ok).toBe(true);
      expect(calls).toBe(2);
      expect(client.requestCount).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('raises NutcacheNetworkError when the connection fails on every attempt', async () => {
    const { client, requests } = setup(
      () => {
        throw new TypeError('fetch failed');
      },
      { retry: { maxAttempts: 3 } },
    );
    const error = await client.getCustomer(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheNetworkError);
    expect((error as Error).message).toBe(
      'Nutcache GET /webapi/customers/1 failed on all 3 attempts: fetch failed',
    );
    expect(requests).toHaveLength(3);
  });

  it('stops at once when the caller aborts', async () => {
    const controller = new AbortController();
    const { client } = setup(() => {
      controller.abort(new Error('caller gave up'));
      throw new DOMException('aborted', 'AbortError');
    });
    await expect(client.getCustomer(1, { signal: controller.signal })).rejects.toThrow('caller gave up');
  });
});

describe('NutcacheClient deadline', () => {
  it('sends nothing once the deadline has passed', async () => {
    const clock = clientClock();
    const { client, requests } = setup(() => json({ customers: [customer(1)] }), {
      clock,
      deadline: clock.now() - 1,
    });
    await expect(client.getCustomer(1)).rejects.toBeInstanceOf(NutcacheDeadlineError);
    expect(requests).toHaveLength(0);
  });

  it('does not wait for a retry that would end past the deadline', async () => {
    const clock = clientClock();
    const { client, requests } = setup(() => text('', 429, { 'retry-after': '30' }), {
      clock,
      deadline: clock.now() + 10_000,
    });
    const error = await client.getCustomer(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheDeadlineError);
    expect((error as Error).message).toMatch(/status 429.*retrying in 30000 ms would pass the deadline/);
    expect(requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('does not wait for the rate limiter past the deadline, and can be moved per invocation', async () => {
    const clock = clientClock();
    const limiter = new SlidingWindowLimiter({ perSecond: 1, perMinute: 100 }, clock);
    const { client, requests } = setup(() => json({ customers: [customer(1)] }), {
      clock,
      rateLimit: limiter,
    });
    client.setDeadline(clock.now() + 500);
    await client.getCustomer(1);
    await expect(client.getCustomer(1)).rejects.toBeInstanceOf(NutcacheDeadlineError);
    expect(requests).toHaveLength(1);
    client.setDeadline(undefined);
    await client.getCustomer(1);
    expect(requests).toHaveLength(2);
  });
});

describe('NutcacheClient bad bodies', () => {
  const html = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>${'x'.repeat(500)}</body></html>`;

  it('retries an HTML page on a 200 and then raises NutcacheResponseError with path, status and a short excerpt', async () => {
    const { client, requests } = setup(() => text(html, 200, { 'content-type': 'text/html' }), {
      retry: { maxAttempts: 3 },
    });
    const error = await collect(client.listCustomers()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheResponseError);
    const e = error as NutcacheResponseError;
    expect(e).toMatchObject({ path: '/webapi/customers', status: 200, attempts: 3 });
    expect(e.message).toMatch(
      /^Nutcache GET \/webapi\/customers \(status 200\): body is HTML, expected JSON/,
    );
    expect(e.message).not.toContain('limit=');
    expect(e.excerpt.startsWith('<!DOCTYPE html><html><head><title>502 Bad Gateway')).toBe(true);
    expect(e.excerpt.length).toBeLessThanOrEqual(EXCERPT_LENGTH);
    expect(requests).toHaveLength(3);
  });

  it('recovers when the HTML hiccup passes', async () => {
    const { client } = setup((_, i) => (i === 0 ? text(html, 200) : page([1])));
    const pages = await collect(client.listCustomers());
    expect(pages).toHaveLength(1);
    expect(client.requestCount).toBe(2);
  });

  it('raises NutcacheResponseError for truncated JSON', async () => {
    const { client } = setup(() => text('{"customers":[{"id":1,"name":"Sam', 200), {
      retry: { maxAttempts: 2 },
    });
    const error = await client.getCustomer(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NutcacheResponseError);
    expect((error as Error).message).toBe(
      'Nutcache GET /webapi/customers/1 (status 200): body is not valid JSON (truncated?) (after 2 attempts); body starts "{\\"customers\\":[{\\"id\\":1,\\"name\\":\\"Sam"',
    );
  });

  it('quotes an HTML error page of a 500 in the final error, shortened', async () => {
    const { client } = setup(() => text(html, 500), { retry: { maxAttempts: 2 } });
    const error = (await client.getCustomer(1).catch((e: unknown) => e)) as NutcacheHttpError;
    expect(error.status).toBe(500);
    expect(error.excerpt.length).toBeLessThanOrEqual(EXCERPT_LENGTH);
  });
});
