import { describe, expect, it } from 'vitest';
import { NutcacheClient, type NutcacheClientConfig } from '../../shared/nutcache/client.ts';
import { InvalidSecretError, parseNutcacheSecret, readNutcacheSecret } from '../../shared/nutcache/secret.ts';
import type { CustomerPage } from '../../shared/nutcache/types.ts';
import { clientClock, credentials, type Handler, ORG, recordingLog, scriptedFetch, text } from './helpers.ts';

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
      const clock = clientClock();
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

describe('reading an organization secret', () => {
  const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache-acme-AbCdEf';
  const GUID = '846E176E-7C4B-4BFD-A894-C98F2988927E';

  it('calls a secret unconfigured when all three credential fields are empty or missing', () => {
    // As the stack creates it: empty fields, the GUID and Secrets Manager's random `placeholder`.
    const created = {
      apiKey: '',
      username: '',
      password: '',
      organizationGuid: GUID,
      placeholder: 'Xy7Qm2Lk',
    };
    expect(readNutcacheSecret(JSON.stringify(created), ARN)).toEqual({ state: 'unconfigured' });
    expect(readNutcacheSecret('{}', ARN)).toEqual({ state: 'unconfigured' });
    expect(readNutcacheSecret({ apiKey: '  ', organizationGuid: GUID }, ARN)).toEqual({
      state: 'unconfigured',
    });
  });

  it('reads a filled secret as configured', () => {
    const value = { ...credentials, organizationGuid: GUID, authScheme: 'bearer' };
    expect(readNutcacheSecret(JSON.stringify(value), ARN)).toEqual({ state: 'configured', secret: value });
  });

  it('refuses a partly filled secret, naming the empty fields and never a value', () => {
    const partial = JSON.stringify({ apiKey: credentials.apiKey, password: '', organizationGuid: GUID });
    const error = (() => {
      try {
        readNutcacheSecret(partial, ARN);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error?.message).toContain(ARN);
    expect(error?.message).toMatch(/username, password/);
    expect(error?.message).not.toContain(credentials.apiKey);
    expect(error?.message).not.toContain('\n');
  });

  it('refuses a value that is not a JSON object, or has no organization GUID', () => {
    expect(() => readNutcacheSecret('apiKey=abc', ARN)).toThrow(/not JSON/);
    expect(() => readNutcacheSecret('[1,2]', ARN)).toThrow(InvalidSecretError);
    expect(() => readNutcacheSecret({ ...credentials }, ARN)).toThrow(/organizationGuid/);
  });

  it('tells a CLI user that an unconfigured secret must be filled in first', () => {
    expect(() => parseNutcacheSecret('{"apiKey":"","username":"","password":""}', ARN)).toThrow(
      /not filled in/,
    );
  });
});
