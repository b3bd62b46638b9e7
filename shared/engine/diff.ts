/**
 * The pure diff engine: compares two canonical customers field by field. Knows nothing of AWS or I/O.
 */
import { type CanonicalCustomer, fieldOrder, type JsonValue, stableStringify } from '../customer.ts';

export interface FieldChange {
  /** Absent when the field was not present before. */
  readonly before?: JsonValue;
  /** Absent when the field is no longer present. */
  readonly after?: JsonValue;
}

export interface CustomerDiff {
  /** Changed field names, documented fields first in their documented order, then extras alphabetically. */
  readonly changedFields: string[];
  readonly changes: Record<string, FieldChange>;
}

function sameValue(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return stableStringify(a) === stableStringify(b);
}

/**
 * The fields whose values differ between `before` and `after`. A field present on one side only counts as
 * changed; `null` and `""` are different values; a field with the same value is never reported.
 */
export function diffCustomers(before: CanonicalCustomer, after: CanonicalCustomer): CustomerDiff {
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changedFields: string[] = [];
  const changes: Record<string, FieldChange> = {};
  for (const field of fields) {
    const b = before[field];
    const a = after[field];
    if (sameValue(b, a)) continue;
    changedFields.push(field);
    const change: { before?: JsonValue; after?: JsonValue } = {};
    if (b !== undefined) change.before = b;
    if (a !== undefined) change.after = a;
    changes[field] = change;
  }
  changedFields.sort(fieldOrder);
  const ordered: Record<string, FieldChange> = {};
  for (const f of changedFields) ordered[f] = changes[f] as FieldChange;
  return { changedFields, changes: ordered };
}
