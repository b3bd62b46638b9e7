import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { basicAuth, get, headers, type ListBody } from './helpers.ts';

/** Reads at most `limit` bytes of a GET's body, then hangs up; reports what arrived. */
function readSome(sandbox: Sandbox, path: string, limit: number) {
  return new Promise<{ status?: number; bytes: number; head: string; contentLength?: string }>((resolve) => {
    const req = request(new URL(path, sandbox.url), { headers: headers(sandbox), agent: false }, (res) => {
      let bytes = 0;
      let head = '';
      res.on('data', (chunk: Buffer) => {
        if (head.length < 64) head += chunk.toString('utf8', 0, 64);
        bytes += chunk.length;
        if (bytes >= limit) res.destroy();
      });
      const done = () =>
        resolve({ status: res.statusCode, bytes, head, contentLength: res.headers['content-length'] });
      res.on('close', done);
    });
    req.on('error', () => resolve({ bytes: 0, head: '' }));
    req.end();
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sandbox hostile faults', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ generated: 30, rateLimit: null, seed: 7 });
  });
  afterAll(() => sandbox.close());
  afterEach(() => {
    sandbox.clearFaults();
    sandbox.resetStats();
  });

  it('streams an endless JSON body that stops once the client hangs up', async () => {
    sandbox.inject({ kind: 'oversized', path: 'customers' });
    const got = await readSome(sandbox, 'customers', 4 * 1024 * 1024);
    expect(got.status).toBe(200);
    expect(got.contentLength).toBeUndefined();
    expect(got.head.startsWith('{"customers":[')).toBe(true);
    expect(got.bytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    await delay(50);
    const sentAtHangUp = sandbox.stats.oversizedBytesSent;
    await delay(100);
    expect(sandbox.stats.oversizedBytesSent).toBe(sentAtHangUp);
    expect(sentAtHangUp).toBeLessThan(16 * 1024 * 1024);
  });

  it('serves a large but finite page as valid JSON, announcing its length when asked', async () => {
    sandbox.inject({ kind: 'oversized', bytes: 300_000, declareLength: true, path: 'customers' });
    const res = await get(sandbox, 'customers');
    expect(res.headers.get('content-length')).toBe('300000');
    expect(Buffer.byteLength(res.text)).toBe(300_000);
    expect(JSON.parse(res.text)).toEqual({ customers: [] });
  });

  it.each([
    ['raw', (s: string) => s],
    ['percent', encodeURIComponent],
    ['base64', (s: string) => Buffer.from(s).toString('base64')],
  ] as const)(
    'reflects the Authorization and its credentials into the next link (%s)',
    async (encoding, encode) => {
      sandbox.inject({ kind: 'reflect', into: 'next-link', encoding, path: 'customers' });
      const body = JSON.parse((await get(sandbox, 'customers?limit=10')).text) as ListBody;
      const next = body.links.find((l) => l.rel === 'navigation-next')?.href ?? '';
      const { apiKey, username, password } = sandbox.credentials;
      const reflected = encode(`${basicAuth(sandbox.credentials)} ${apiKey}:${username}:${password}`);
      expect(next).toBe(`customers/${reflected}?limit=10&page=2&echo=${reflected}`);
      expect(body.customers).toHaveLength(10);
    },
  );

  it('reflects the credentials HTML-escaped in an error page', async () => {
    sandbox.inject({ kind: 'reflect', into: 'body', encoding: 'html', status: 500, path: 'customers' });
    const res = await get(sandbox, 'customers');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.text).toContain(sandbox.credentials.apiKey);
    expect(res.text).toContain(basicAuth(sandbox.credentials).split(' ')[1]);
  });

  it('refuses a negative oversized length', () => {
    expect(() => sandbox.inject({ kind: 'oversized', bytes: -1 })).toThrow(/bytes/);
  });
});
