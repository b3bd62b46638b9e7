import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { basicAuth, get } from './helpers.ts';

const OTHER_GUID = '11111111-2222-3333-4444-555555555555';

async function requestToken(
  sandbox: Sandbox,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL('token', sandbox.url), { method: 'POST', body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const goodForm = {
  grant_type: 'password',
  username: DEMO_CREDENTIALS.username,
  password: DEMO_CREDENTIALS.password,
  api_key: DEMO_CREDENTIALS.apiKey,
};

describe('sandbox authentication and headers', () => {
  let sandbox: Sandbox;
  let now = 1_000_000;
  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null, clock: { now: () => now }, tokenExpiresIn: 3600 });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.tokens.setExpiresIn(3600);
  });

  it('accepts the documented sample nut-basic header', async () => {
    const documented =
      'nut-basic YVl6T1JtbkdpMHhwaXhCdTQ5b3l6ckpqR2ZGY2Z3Z1Eycnh2aGl0ZDphcGlkb2NzQGFwaWRvY3MuY29tOnBhc3N3b3Jk';
    expect((await get(sandbox, 'customers', { authorization: documented })).status).toBe(200);
  });

  it.each([
    ['no Authorization header', undefined],
    ['a wrong password', basicAuth({ ...DEMO_CREDENTIALS, password: 'nope-s3cret' })],
    ['a wrong API key', basicAuth({ ...DEMO_CREDENTIALS, apiKey: 'x'.repeat(40) })],
    ['a wrong user name', basicAuth({ ...DEMO_CREDENTIALS, username: 'someone@else.com' })],
    ['only two parts', `nut-basic ${Buffer.from('key:user').toString('base64')}`],
    ['not base64', 'nut-basic !!!'],
    ['an unknown scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['an unknown bearer token', 'bearer not-a-token'],
  ])('answers 401 to %s', async (_case, authorization) => {
    const res = await fetch(new URL('customers', sandbox.url), {
      headers: {
        'api-version': '3',
        organizationguid: sandbox.organizationGuid,
        ...(authorization ? { authorization } : {}),
      },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBeTruthy();
    // The answer never echoes what was sent (the demo password is the word "password", so check the others).
    const text = await res.text();
    expect(text).not.toContain(DEMO_CREDENTIALS.apiKey);
    expect(text).not.toContain(DEMO_CREDENTIALS.username);
    expect(text).not.toContain('s3cret');
  });

  it('answers 400 without api-version or with an unsupported one', async () => {
    const missing = await fetch(new URL('customers', sandbox.url), {
      headers: { authorization: basicAuth(DEMO_CREDENTIALS), organizationguid: sandbox.organizationGuid },
    });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('api-version');
    expect((await get(sandbox, 'customers', { 'api-version': '9' })).status).toBe(400);
  });

  it('answers 400 without OrganizationGuid or with one that is not a GUID', async () => {
    const res = await fetch(new URL('customers', sandbox.url), {
      headers: { authorization: basicAuth(DEMO_CREDENTIALS), 'api-version': '3' },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('OrganizationGuid');
    expect((await get(sandbox, 'customers', { organizationguid: 'not-a-guid' })).status).toBe(400);
  });

  it('answers 403 for a well-formed organization the user cannot see (credentials were fine)', async () => {
    expect((await get(sandbox, 'customers', { organizationguid: OTHER_GUID })).status).toBe(403);
    expect((await get(sandbox, 'customers/143222', { organizationguid: OTHER_GUID })).status).toBe(403);
  });

  it('issues a bearer token for the password grant and accepts it', async () => {
    const token = await requestToken(sandbox, goodForm);
    expect(token.status).toBe(200);
    expect(token.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 3600 });
    const res = await get(sandbox, 'customers/143222', {
      authorization: `bearer ${token.body.access_token}`,
    });
    expect(res.status).toBe(200);
    const capitalised = await get(sandbox, 'customers/143222', {
      authorization: `Bearer ${token.body.access_token}`,
    });
    expect(capitalised.status).toBe(200);
  });

  it('uses the documented 1,209,599 s lifetime by default', async () => {
    const other = await startSandbox({ rateLimit: null });
    try {
      expect((await requestToken(other, goodForm)).body.expires_in).toBe(1_209_599);
    } finally {
      await other.close();
    }
  });

  it('rejects a token once it has expired, so a client has to fetch a new one', async () => {
    sandbox.tokens.setExpiresIn(60);
    const { body } = await requestToken(sandbox, goodForm);
    const auth = { authorization: `bearer ${body.access_token}` };
    now += 59_000;
    expect((await get(sandbox, 'customers', auth)).status).toBe(200);
    now += 1_000;
    const expired = await get(sandbox, 'customers', auth);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    const fresh = await requestToken(sandbox, goodForm);
    expect(
      (await get(sandbox, 'customers', { authorization: `bearer ${fresh.body.access_token}` })).status,
    ).toBe(200);
  });

  it('rejects revoked and force-expired tokens', async () => {
    const a = await requestToken(sandbox, goodForm);
    const b = await requestToken(sandbox, goodForm);
    expect(sandbox.tokens.revoke(String(a.body.access_token))).toBe(1);
    expect((await get(sandbox, 'customers', { authorization: `bearer ${a.body.access_token}` })).status).toBe(
      401,
    );
    expect((await get(sandbox, 'customers', { authorization: `bearer ${b.body.access_token}` })).status).toBe(
      200,
    );
    sandbox.tokens.expireAll();
    expect((await get(sandbox, 'customers', { authorization: `bearer ${b.body.access_token}` })).status).toBe(
      401,
    );
    expect(sandbox.tokens.active).toBe(0);
  });

  it.each([
    ['a wrong password', { ...goodForm, password: 'nope-s3cret' }, 'invalid_grant'],
    ['a wrong API key', { ...goodForm, api_key: 'nope' }, 'invalid_grant'],
    ['another grant type', { ...goodForm, grant_type: 'client_credentials' }, 'unsupported_grant_type'],
    ['a missing field', { grant_type: 'password', username: 'a', password: 'b' }, 'invalid_request'],
  ])('refuses a token request with %s (400, OAuth2 error body)', async (_case, form, error) => {
    const res = await requestToken(sandbox, form);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(DEMO_CREDENTIALS.apiKey);
    expect(text).not.toContain(DEMO_CREDENTIALS.username);
  });

  it('refuses a token request that is not form-encoded', async () => {
    const res = await fetch(new URL('token', sandbox.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(goodForm),
    });
    expect(res.status).toBe(400);
  });
});

describe('sandbox with several users and organizations', () => {
  it('accepts each configured user and serves each organization its own customers', async () => {
    const alice = { apiKey: 'A'.repeat(40), username: 'alice@example.com', password: 'pw-a' };
    const bob = { apiKey: 'B'.repeat(40), username: 'bob@example.com', password: 'pw-b' };
    const sandbox = await startSandbox({
      credentials: [alice, bob],
      organizationGuids: ['846E176E-7C4B-4BFD-A894-C98F2988927E', OTHER_GUID],
      rateLimit: null,
    });
    try {
      sandbox.organization(OTHER_GUID.toLowerCase()).create({ name: 'Only in the second org' });
      const first = await get(sandbox, 'customers?limit=100', { authorization: basicAuth(bob) });
      expect((JSON.parse(first.text) as { customers: unknown[] }).customers).toHaveLength(8);
      const second = await get(sandbox, 'customers?limit=100', {
        authorization: basicAuth(alice),
        organizationguid: OTHER_GUID,
      });
      const records = (JSON.parse(second.text) as { customers: { name: string; Organization: number }[] })
        .customers;
      expect(records).toEqual([
        expect.objectContaining({ name: 'Only in the second org', Organization: 1687 }),
      ]);
      expect((await get(sandbox, 'customers', { authorization: basicAuth(DEMO_CREDENTIALS) })).status).toBe(
        401,
      );
      sandbox.reset();
      expect(sandbox.organization(OTHER_GUID).size).toBe(0);
      expect(sandbox.size).toBe(8);
    } finally {
      await sandbox.close();
    }
  });
});
