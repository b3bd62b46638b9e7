import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { get, getJson, type ListBody } from './helpers.ts';

// Copies of the two JSON examples of the documented seed page (GET customers/143222 and GET customers).
const seedList = JSON.parse(
  readFileSync(new URL('../fixtures/seed-list-customers.json', import.meta.url), 'utf8'),
) as ListBody;
const seedView = JSON.parse(
  readFileSync(new URL('../fixtures/seed-view-customer.json', import.meta.url), 'utf8'),
) as { customers: unknown[] };

describe('sandbox envelope: the documented seed page', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    // Five generated customers after the eight documented ones give a second page, so page 1 has a
    // navigation-next link as on the seed page.
    sandbox = await startSandbox({ generated: 5, rateLimit: null });
  });
  afterAll(() => sandbox.close());

  it('serves the documented first page: same links, same eight customers, same key order and values', async () => {
    const res = await get(sandbox, 'customers');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(res.text) as ListBody;
    expect(Object.keys(body)).toEqual(['links', 'customers']);
    expect(body.links).toEqual(seedList.links);
    expect(body.customers).toHaveLength(10);
    // Serialising both sides compares key order as well as values: byte for byte.
    for (let i = 0; i < seedList.customers.length; i++) {
      expect(JSON.stringify(body.customers[i])).toBe(JSON.stringify(seedList.customers[i]));
    }
  });

  it('serves the documented single customer, wrapped in a customers array', async () => {
    const res = await get(sandbox, 'customers/143222');
    expect(res.status).toBe(200);
    expect(res.text).toBe(JSON.stringify(seedView));
  });

  it('accepts the include parameter on a single customer', async () => {
    const body = await getJson<{ customers: { id: number }[] }>(
      sandbox,
      'customers/143224?include=taxes,countries',
    );
    expect(body.customers.map((c) => c.id)).toEqual([143224]);
  });

  it('answers 404 for a customer that does not exist', async () => {
    const res = await get(sandbox, 'customers/999');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({ message: 'Customer 999 was not found.' });
  });

  it('answers 404 for an unknown resource and 405 for an undocumented method', async () => {
    expect((await get(sandbox, 'invoices')).status).toBe(404);
    const res = await fetch(new URL('customers/143222', sandbox.url), { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });

  it('matches the organization GUID case-insensitively', async () => {
    const res = await get(sandbox, 'customers?limit=1', {
      organizationguid: sandbox.organizationGuid.toLowerCase(),
    });
    expect(res.status).toBe(200);
  });

  it('lists the organizations the user can see, with their GUID', async () => {
    const body = await getJson<{ organizations: { id: number; guid: string }[] }>(sandbox, 'organizations');
    expect(body.organizations).toEqual([
      expect.objectContaining({ id: 1686, guid: '846E176E-7C4B-4BFD-A894-C98F2988927E' }),
    ]);
  });

  it.each([
    ['page=0', 'page'],
    ['page=-1', 'page'],
    ['page=abc', 'page'],
    ['page=1.5', 'page'],
    ['page=', 'page'],
    ['page=1&page=2', 'page'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=1e2', 'limit'],
    ['limit=%2010', 'limit'],
    ['limit=99999999999', 'limit'],
  ])('answers 400 for a bad listing query (%s)', async (query, param) => {
    const res = await get(sandbox, `customers?${query}`);
    expect(res.status).toBe(400);
    expect(res.text).toContain(param);
  });

  it('answers 400 for a customer id that is not a positive integer', async () => {
    expect((await get(sandbox, 'customers/abc')).status).toBe(400);
    expect((await get(sandbox, 'customers/0')).status).toBe(400);
  });

  it('accepts limit=100, the documented maximum', async () => {
    const body = await getJson<ListBody>(sandbox, 'customers?limit=100');
    expect(body.customers).toHaveLength(13);
    expect(body.links).toEqual([]);
  });

  it('answers a page past the end with no customers and a previous link only', async () => {
    const body = await getJson<ListBody>(sandbox, 'customers?limit=10&page=5');
    expect(body.customers).toEqual([]);
    expect(body.links).toEqual([
      { href: 'customers?limit=10&page=4', rel: 'navigation-previous', type: 'GET' },
    ]);
  });
});
