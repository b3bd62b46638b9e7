import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_GENERATED_ID } from '../../sandbox/data.ts';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { getJson, type ListBody, walkListing } from './helpers.ts';

describe('sandbox paging: walking navigation-next with plain fetch', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it.each([1, 100, 101, 10_001])(
    'serves %i customers in ceil(N/100) pages of 100, each exactly once, by id',
    async (n) => {
      sandbox = await startSandbox({ documented: false, generated: n, rateLimit: null });
      const { ids, requests, pages } = await walkListing(sandbox);
      expect(requests).toBe(Math.ceil(n / 100));
      expect(ids).toHaveLength(n);
      expect(new Set(ids).size).toBe(n);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(ids[0]).toBe(FIRST_GENERATED_ID);
      expect(pages.at(-1)?.links.some((l) => l.rel === 'navigation-next')).toBe(false);
      expect(sandbox.stats.byPath.customers).toBe(requests);
    },
  );

  it('links each page to its neighbours with relative hrefs that keep the limit', async () => {
    sandbox = await startSandbox({ documented: false, generated: 25, rateLimit: null });
    const middle = await getJson<ListBody>(sandbox, 'customers?limit=10&page=2');
    expect(middle.links).toEqual([
      { href: 'customers?limit=10&page=3', rel: 'navigation-next', type: 'GET' },
      { href: 'customers?limit=10&page=1', rel: 'navigation-previous', type: 'GET' },
    ]);
    const last = await getJson<ListBody>(sandbox, 'customers?limit=10&page=3');
    expect(last.customers).toHaveLength(5);
    expect(last.links.map((l) => l.rel)).toEqual(['navigation-previous']);
  });

  it('uses the documented default page size of 10', async () => {
    sandbox = await startSandbox({ documented: false, generated: 15, rateLimit: null });
    const { pages } = await walkListing(sandbox, 'customers');
    expect(pages.map((p) => p.customers.length)).toEqual([10, 5]);
  });

  it('answers an empty organization with one empty page and no links', async () => {
    sandbox = await startSandbox({ documented: false, rateLimit: null });
    const { pages } = await walkListing(sandbox);
    expect(pages).toEqual([{ links: [], customers: [] }]);
  });

  it('keeps the documented customers first and the generated ones after them', async () => {
    sandbox = await startSandbox({ generated: 3, rateLimit: null });
    const { ids } = await walkListing(sandbox);
    expect(ids.slice(0, 8)).toEqual([143222, 143224, 143225, 147033, 147504, 149643, 153744, 153745]);
    expect(ids).toHaveLength(11);
  });
});
