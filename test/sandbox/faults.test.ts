import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { get, getJson, headers, type ListBody } from './helpers.ts';

/** A raw GET that reports a connection failure instead of throwing, with its error code. */
function rawGet(sandbox: Sandbox, path: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(new URL(path, sandbox.url), { headers: headers(sandbox), agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e: NodeJS.ErrnoException) =>
        resolve({ status: res.statusCode, error: e.code ?? e.message }),
      );
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

describe('sandbox fault injection', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ generated: 30, rateLimit: null, seed: 42 });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
    sandbox.setKeyCasing('documented');
    sandbox.reset();
  });

  it('answers an injected 429 with Retry-After in seconds, once, then serves normally', async () => {
    const fault = sandbox.inject({ kind: 'status', status: 429, retryAfter: 7, path: 'customers' });
    const first = await get(sandbox, 'customers');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await get(sandbox, 'customers')).status).toBe(200);
    expect(fault.hits).toBe(1);
    expect(sandbox.faults).toEqual([]);
  });

  it('answers an injected 429 with Retry-After as an HTTP date, without counting it a client violation', async () => {
    sandbox.resetStats();
    const when = new Date('2030-01-01T00:00:05Z');
    sandbox.inject({ kind: 'status', status: 429, retryAfter: when });
    const res = await get(sandbox, 'customers');
    expect(res.headers.get('retry-after')).toBe('Tue, 01 Jan 2030 00:00:05 GMT');
    expect(sandbox.stats).toMatchObject({ throttled: 1, rateLimitViolations: 0, faultsFired: 1 });
  });

  it.each([500, 502, 503])(
    'answers an injected %i on the chosen page only, as many times as asked',
    async (status) => {
      sandbox.inject({ kind: 'status', status, page: 2, times: 2 });
      expect((await get(sandbox, 'customers?page=1')).status).toBe(200);
      expect((await get(sandbox, 'customers?page=2')).status).toBe(status);
      expect((await get(sandbox, 'customers?page=2')).status).toBe(status);
      expect((await get(sandbox, 'customers?page=2')).status).toBe(200);
    },
  );

  it('matches a fault to one customer id, and lets a number of matches through first', async () => {
    sandbox.inject({ kind: 'status', status: 500, customerId: 143224, skip: 1 });
    expect((await get(sandbox, 'customers/143222')).status).toBe(200);
    expect((await get(sandbox, 'customers/143224')).status).toBe(200);
    expect((await get(sandbox, 'customers/143224')).status).toBe(500);
  });

  it('serves an HTML error page, with status 200 or an error status', async () => {
    sandbox.inject({ kind: 'html', status: 200 });
    sandbox.inject({ kind: 'html', status: 503 });
    const ok = await get(sandbox, 'customers');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/html/);
    expect(ok.text).toMatch(/^<!DOCTYPE html>/);
    expect(() => JSON.parse(ok.text)).toThrow();
    const failed = await get(sandbox, 'customers');
    expect(failed.status).toBe(503);
    expect(failed.text).toContain('<html>');
  });

  it('serves truncated JSON in a well-framed 200 answer', async () => {
    sandbox.inject({ kind: 'truncated', fraction: 0.4 });
    const res = await get(sandbox, 'customers?limit=20');
    expect(res.status).toBe(200);
    expect(res.text.startsWith('{"links":[')).toBe(true);
    expect(() => JSON.parse(res.text)).toThrow();
  });

  it('can cut the body short and drop the connection (the length announced is never reached)', async () => {
    sandbox.inject({ kind: 'truncated', framing: 'abort' });
    const res = await rawGet(sandbox, 'customers?limit=20');
    expect(res.status).toBe(200);
    expect(res.error).toBe('ECONNRESET');
    await expect(
      fetch(new URL('customers', sandbox.url), { headers: headers(sandbox) }),
    ).resolves.toBeTruthy();
  });

  it('resets the connection before answering', async () => {
    sandbox.resetStats();
    sandbox.inject({ kind: 'reset', path: 'customers', times: 2 });
    const res = await rawGet(sandbox, 'customers');
    expect(res.status).toBeUndefined();
    expect(res.error).toBe('ECONNRESET');
    await expect(fetch(new URL('customers', sandbox.url), { headers: headers(sandbox) })).rejects.toThrow();
    expect(sandbox.stats.byStatus['0']).toBe(2);
    expect((await get(sandbox, 'customers')).status).toBe(200);
  });

  it('answers slowly when asked', async () => {
    sandbox.inject({ kind: 'delay', ms: 150 });
    const started = performance.now();
    const res = await get(sandbox, 'customers');
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    await get(sandbox, 'customers');
    // The sandbox's own timings: only the first answer waited (robust to a loaded test machine).
    const [slow, normal] = sandbox.log.slice(-2);
    expect(slow?.durationMs).toBeGreaterThanOrEqual(145);
    expect(normal?.durationMs).toBeLessThan(145);
  });

  it('adds a latency to every answer when configured', async () => {
    sandbox.setLatency(60);
    try {
      const started = performance.now();
      await get(sandbox, 'customers');
      await get(sandbox, 'customers/143222');
      expect(performance.now() - started).toBeGreaterThanOrEqual(115);
    } finally {
      sandbox.setLatency(0);
    }
  });

  it('fires probabilistic faults reproducibly for the same seed', async () => {
    const pattern = async (): Promise<number[]> => {
      const s = await startSandbox({ rateLimit: null, seed: 9 });
      try {
        s.inject({ kind: 'status', status: 503, probability: 0.3, times: Number.POSITIVE_INFINITY });
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) statuses.push((await get(s, 'customers')).status);
        return statuses;
      } finally {
        await s.close();
      }
    };
    const a = await pattern();
    expect(a).toEqual(await pattern());
    const failures = a.filter((s) => s === 503).length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(25);
  });

  it('lets a fault be withdrawn before it fires', async () => {
    const fault = sandbox.inject({ kind: 'status', status: 500, times: Number.POSITIVE_INFINITY });
    fault.cancel();
    expect((await get(sandbox, 'customers')).status).toBe(200);
  });

  it('refuses nonsensical faults', () => {
    expect(() => sandbox.inject({ kind: 'status', status: 42 })).toThrow(/HTTP status/);
    expect(() => sandbox.inject({ kind: 'delay', ms: 5, probability: 0 })).toThrow(/probability/);
    expect(() => sandbox.inject({ kind: 'truncated', fraction: 1 })).toThrow(/fraction/);
  });
});

describe('sandbox key-casing modes', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null });
  });
  afterAll(() => sandbox.close());

  const keysOf = async (path = 'customers/143222'): Promise<string[]> => {
    const body = await getJson<ListBody>(sandbox, path);
    return Object.keys(body.customers[0] ?? {});
  };

  it.each([
    ['documented', ['Organization', 'status', 'Notes', 'zip_code']],
    ['lower', ['organization', 'status', 'notes', 'zip_code']],
    ['upper', ['ORGANIZATION', 'STATUS', 'NOTES', 'ZIP_CODE', 'ID', 'LINKS']],
    ['attribute-table', ['Organization', 'Status', 'Notes']],
    ['pascal', ['Organization', 'Status', 'Notes', 'Zip_code', 'Id']],
  ] as const)('serves %s keys persistently, with the same values', async (mode, expected) => {
    sandbox.setKeyCasing(mode);
    for (let i = 0; i < 2; i++) {
      const keys = await keysOf();
      for (const k of expected) expect(keys).toContain(k);
    }
    const body = await getJson<ListBody>(sandbox, 'customers/143222');
    const values = Object.values(body.customers[0] ?? {});
    sandbox.setKeyCasing('documented');
    const documented = await getJson<ListBody>(sandbox, 'customers/143222');
    expect(values).toEqual(Object.values(documented.customers[0] ?? {}));
  });

  it('mixes casings inside one page in mixed mode, and follows a custom key map', async () => {
    sandbox.setKeyCasing('mixed');
    const page = await getJson<ListBody>(sandbox, 'customers?limit=100');
    const odd = page.customers.find((c) => (c.id as number) % 2 === 1);
    const even = page.customers.find((c) => (c.id as number) % 2 === 0);
    expect(odd).toHaveProperty('notes');
    expect(even).toHaveProperty('Notes');
    sandbox.setKeyCasing({ Notes: 'notes', status: 'Status' });
    expect(await keysOf()).toEqual(expect.arrayContaining(['notes', 'Status', 'Organization']));
    expect(sandbox.keyCasing).toEqual({ Notes: 'notes', status: 'Status' });
    sandbox.setKeyCasing('documented');
  });

  it('keeps the envelope and the links as documented', async () => {
    sandbox.setKeyCasing('upper');
    const body = await getJson<ListBody>(sandbox, 'customers?limit=3');
    expect(Object.keys(body)).toEqual(['links', 'customers']);
    expect(body.links[0]?.rel).toBe('navigation-next');
    expect(body.customers[0]?.LINKS).toEqual([
      { href: 'organizations/1686', rel: 'organizations', type: 'GET' },
      { href: 'countries/40', rel: 'countries', type: 'GET' },
      { href: 'customers/143222', rel: 'self', type: 'GET' },
    ]);
    sandbox.setKeyCasing('documented');
  });
});
