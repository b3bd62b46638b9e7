/**
 * The port through which the change-detection engine reads Nutcache. The HTTP client in `client.ts`
 * implements it; tests may implement it with fakes.
 */
import type { CanonicalCustomer } from '../customer.ts';

/** One record of a listing, parsed and normalised, or rejected with a reason (to be quarantined). */
export type ParsedCustomer =
  | { readonly ok: true; readonly customer: CanonicalCustomer }
  | { readonly ok: false; readonly id: number | undefined; readonly reason: string };

/** One page of `GET customers`. */
export interface CustomerPage {
  /** 1-based position of this page in the listing. */
  readonly pageNumber: number;
  readonly records: readonly ParsedCustomer[];
  /** True when this is the last page (no `navigation-next`), when the source knows. */
  readonly last?: boolean;
}

export interface ListCustomersOptions {
  /** Page size, 1..100 (default 100). */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

export interface GetCustomerOptions {
  /** Passed through as Nutcache's `include` query parameter (e.g. `['countries']`). */
  readonly include?: readonly string[];
  readonly signal?: AbortSignal;
}

/** What the engine needs from Nutcache. */
export interface CustomerSource {
  /** Pages of the customer listing, following `navigation-next` until the last page. */
  listCustomers(options?: ListCustomersOptions): AsyncIterable<CustomerPage>;
  /** One customer, or `null` when Nutcache answers 404. A record that cannot be parsed is returned as `ok: false`. */
  getCustomer(id: number, options?: GetCustomerOptions): Promise<ParsedCustomer | null>;
  /** How many HTTP requests this source has sent to Nutcache so far (retries included). */
  readonly requestCount: number;
  /** How many 429 answers Nutcache has given this source so far, when the source knows. */
  readonly throttledCount?: number;
}
