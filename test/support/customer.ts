/** The canonical customer the unit suites build: `Customer <id>`, `c<id>@example.com`, plus any fields. */
import type { CanonicalCustomer } from '../../shared/customer.ts';

export function customerRecord(
  id: number,
  fields: Record<string, CanonicalCustomer[string]> = {},
): CanonicalCustomer {
  return { id, name: `Customer ${id}`, email: `c${id}@example.com`, ...fields };
}
