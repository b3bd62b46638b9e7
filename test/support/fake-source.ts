/**
 * An in-memory CustomerSource for engine tests: a list of raw Nutcache records, paged by position like the
 * real API, with hooks for page shifts, failures and key casing.
 */
import type { CanonicalCustomer } from '../../shared/customer.ts';
import type { CustomerPage, CustomerSource, ParsedCustomer } from '../../shared/nutcache/types.ts';

export class FakeSource implements CustomerSource {
  customers = new Map<number, CanonicalCustomer | { id: number; invalid: string }>();
  requestCount = 0;
  /** 429 answers "seen" so far (set by tests). */
  throttledCount = 0;
  pageSize = 100;
  /** Called after page N was served (page shifts). */
  afterPage: ((pageNumber: number) => void) | undefined;
  /** Throws from the listing when asked for this page. */
  failAtPage: number | undefined;
  /** getCustomer throws for these ids. */
  failLookups = new Set<number>();

  put(customer: CanonicalCustomer): void {
    this.customers.set(customer.id, customer);
  }

  remove(id: number): void {
    this.customers.delete(id);
  }

  private parsed(record: CanonicalCustomer | { id: number; invalid: string }): ParsedCustomer {
    if ('invalid' in record && typeof record.invalid === 'string' && Object.keys(record).length === 2) {
      return { ok: false, id: record.id, reason: record.invalid };
    }
    return { ok: true, customer: structuredClone(record) as CanonicalCustomer };
  }

  async *listCustomers(): AsyncIterable<CustomerPage> {
    let page = 1;
    for (;;) {
      this.requestCount += 1;
      if (this.failAtPage === page) throw new Error(`listing failed at page ${page}`);
      const sorted = [...this.customers.values()].sort((a, b) => a.id - b.id);
      const slice = sorted.slice((page - 1) * this.pageSize, page * this.pageSize);
      const last = page * this.pageSize >= sorted.length;
      yield { pageNumber: page, records: slice.map((r) => this.parsed(r)), last };
      this.afterPage?.(page);
      if (last) return;
      page += 1;
    }
  }

  async getCustomer(id: number): Promise<ParsedCustomer | null> {
    this.requestCount += 1;
    if (this.failLookups.has(id)) throw new Error(`lookup of ${id} failed`);
    const record = this.customers.get(id);
    return record ? this.parsed(record) : null;
  }
}

export function customer(id: number, fields: Record<string, unknown> = {}): CanonicalCustomer {
  return {
    id,
    organization: 1686,
    name: `Customer ${id}`,
    status: 0,
    email: `${id}@example.com`,
    contact: null,
    ...fields,
  } as CanonicalCustomer;
}
