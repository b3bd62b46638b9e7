/** Test doubles shared by the runtime tests. */
import { NutcacheAuthError } from '../../shared/nutcache/errors.ts';
import type { CustomerPage, CustomerSource } from '../../shared/nutcache/types.ts';

/** A source that answers 401 to every listing, like Nutcache with rotated credentials. */
export class RejectingSource implements CustomerSource {
  requestCount = 0;
  // biome-ignore lint/correctness/useYield: it fails before its first page
  async *listCustomers(): AsyncIterable<CustomerPage> {
    this.requestCount += 1;
    throw new NutcacheAuthError({ method: 'GET', path: '/customers', status: 401, excerpt: '', attempts: 1 });
  }
  async getCustomer(): Promise<null> {
    return null;
  }
}
