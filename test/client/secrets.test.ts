import { describe, expect, it } from 'vitest';
import { NutcacheClient, type NutcacheClientConfig } from '../../shared/nutcache/client.ts';
import type { CustomerPage } from '../../shared/nutcache/types.ts';
import { credentials, FakeClock, type Handler, ORG, recordingLog, scriptedFetch, text } from './helpers.ts';

const basicToken = Buffer.from(
  `${credentials.apiKey}:${credentials.username}:${credentials.password}`,
).toString('base64');
const bearerToken = 'eyJhbGciOi.bearer-token-value.sig';

/** A hostile server: every error page quotes the request's headers and body back. */
function echo(status: number, r: Parameters<Handler>[0], html = true): Response {
  const dump = `auth=${r.headers.get('authorization')} body=${r.body ?? ''} user=${credentials.username}`;
  return text(html ? `<html><body><h1>Error ${status}</h1><pre>${dump}</pre></body></html>` : dump, status);
}

async function drain(pages: AsyncIterable<CustomerPage>): Promise<void> {
  for await (const _ of pages) {
    // read every page
  }
}

describe('NutcacheClient credentials', () => {
  it('never writes the API key, user name, password, nut-basic token or bearer token to a log line or error', async () => {
    const log = recordingLog();
    const errors: unknown[] = [];
    const run = async (
      handler: Handler,
      overrides: Partial<NutcacheClientConfig>,
      call: (c: NutcacheClient) => Promise<unknown>,
    ) => {
      const clock = new FakeClock();
      const { fetch } = scriptedFetch(handler, clock);
      const client = new NutcacheClient({
        baseUrl: 'https://nutcache.test/webapi/',
        organizationGuid: ORG,
        credentials,
        clock,
        fetch,
        logger: log,
        retry: { maxAttempts: 2 },
        ...overrides,
      });
      await call(client).then(
        () => errors.push(new Error('expected a failure')),
        (e: unknown) => errors.push(e),
      );
    };
    const get = (c: NutcacheClient) => c.getCustomer(1);
    const list = (c: NutcacheClient) => drain(c.listCustomers());

    await run((r) => echo(401, r), {}, get);
    await run((r) => echo(500, r), {}, list);
    await run((r) => echo(503, r, false), {}, get);
    await run((r) => echo(200, r), {}, list);
    await run(() => text(`{"customers":[{"id":1,"name":"${basicToken}`, 200), {}, get);
    await run(
      (r) => {
        throw new TypeError(`connect failed for ${r.headers.get('authorization')} ${credentials.password}`);
      },
      {},
      get,
    );
    const bearer: Handler = (r) =>
      r.url.pathname.endsWith('/token')
        ? text(JSON.stringify({ access_token: bearerToken, token_type: 'bearer', expires_in: 3600 }), 200)
        : echo(401, r);
    await run(bearer, { authScheme: 'bearer' }, get);
    await run((r) => echo(500, r), { authScheme: 'bearer' }, get);
    await run((r) => echo(400, r), { authScheme: 'bearer' }, list);
    await run(
      (r) =>
        r.url.pathname.endsWith('/token') ? text(`{"access_token":"${bearerToken}"`, 200) : echo(500, r),
      { authScheme: 'bearer' },
      get,
    );

    const messages = errors.map((e) => {
      expect(e).toBeInstanceOf(Error);
      const err = e as Error;
      return `${String(err)} ${err.stack ?? ''} ${JSON.stringify(err)}`;
    });
    expect(errors).toHaveLength(10);
    expect(log.lines.length).toBeGreaterThan(10);
    const everything = [...messages, ...log.lines];
    const secrets = [
      credentials.apiKey,
      credentials.username,
      encodeURIComponent(credentials.username),
      credentials.password,
      encodeURIComponent(credentials.password),
      basicToken,
      bearerToken,
    ];
    for (const line of everything) {
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
    // The failures are still described usefully.
    expect(messages.join('\n')).toContain('[redacted]');
    expect(messages[0]).toContain('NutcacheAuthError');
    expect(
      log.lines.some((l) => l.includes('"path":"/webapi/customers/1"') && l.includes('"status":503')),
    ).toBe(true);
  });
});
