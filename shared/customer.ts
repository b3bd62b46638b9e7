/**
 * The canonical customer: what every Nutcache customer record is normalised to before it is hashed,
 * stored or published. Keys are snake_case and lower case; values are kept exactly as Nutcache sent them
 * (null stays null, "" stays ""). Unknown extra fields are kept under their lower-cased names; `type` and
 * `links` are dropped.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** A JSON value, as found in a Nutcache response. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The zod schema of a JSON value. */
export const jsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
);

/** The documented customer fields, in the order they are published. */
export const KNOWN_CUSTOMER_FIELDS = [
  'id',
  'organization',
  'name',
  'status',
  'email',
  'contact',
  'address',
  'city',
  'zip_code',
  'state',
  'country',
  'phone',
  'mobile_phone',
  'tax',
  'currency',
  'legal_notice',
  'communication_culture_code',
  'notes',
] as const;

export type KnownCustomerField = (typeof KNOWN_CUSTOMER_FIELDS)[number];

/** Largest customer id accepted (15 digits: it keys DynamoDB items and the index). */
export const MAX_CUSTOMER_ID = 999_999_999_999_999;

/** Fields Nutcache sends that are not customer data and are never kept. */
export const DROPPED_CUSTOMER_FIELDS = ['type', 'links'] as const;

/**
 * A normalised customer. `id` is always a number; the other documented fields are present when Nutcache
 * sent them (a field Nutcache did not send is absent, not null). Extra fields are lower-cased keys.
 */
export interface CanonicalCustomer {
  readonly id: number;
  readonly [field: string]: JsonValue;
}

/** Serialises a JSON value with object keys sorted, so equal content always gives equal text. */
export function stableStringify(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const v = value[key];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${stableStringify(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * A 64-bit content fingerprint of a canonical customer (16 hex characters of SHA-256 over the stable
 * serialisation). Two customers with the same fields and values always have the same hash, whatever the
 * key order or casing Nutcache used.
 */
export function customerHash(customer: CanonicalCustomer): string {
  return customerDigest(customer).hash;
}

/** The content hash and the size in bytes (UTF-8 JSON) of a canonical customer, computed together. */
export function customerDigest(customer: CanonicalCustomer): { hash: string; bytes: number } {
  const text = stableStringify(customer);
  return {
    hash: createHash('sha256').update(text).digest('hex').slice(0, 16),
    bytes: Buffer.byteLength(text, 'utf8'),
  };
}

/** The fields of a customer whose value is not null (used as `changedFields` of non-update events). */
export function nonNullFields(customer: CanonicalCustomer): string[] {
  return Object.keys(customer)
    .filter((k) => customer[k] !== null && customer[k] !== undefined)
    .sort(fieldOrder);
}

/** Orders documented fields first in their documented order, then extra fields alphabetically. */
export function fieldOrder(a: string, b: string): number {
  const ia = (KNOWN_CUSTOMER_FIELDS as readonly string[]).indexOf(a);
  const ib = (KNOWN_CUSTOMER_FIELDS as readonly string[]).indexOf(b);
  if (ia !== -1 && ib !== -1) return ia - ib;
  if (ia !== -1) return -1;
  if (ib !== -1) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
