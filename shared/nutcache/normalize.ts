/**
 * Turns one raw Nutcache customer record into the canonical customer (shared/customer.ts), or into a
 * rejection with a reason so the caller can quarantine it without aborting the listing.
 *
 * Rules:
 * - Every key is lower-cased (`Status`, `ZIP_CODE`, `Zip_Code` → `status`, `zip_code`). Two keys that
 *   differ only by case are fine when their values are equal, and make the record invalid when they differ.
 * - `type` and `links` are dropped; every other field is kept, unknown ones under their lower-cased name.
 * - Values are kept exactly: null stays null, "" stays "", a field Nutcache did not send stays absent.
 * - Types: `id` must be a JSON integer. A numeric string such as "143222" is rejected: the canonical id is a
 *   number, and accepting either form would let the same customer hash differently from one poll to the
 *   next (a false update) or appear under two ids. The rejection still reports the id it spells, so the
 *   caller can keep that customer's snapshot instead of treating it as deleted.
 *   `organization`, `status`, `country`, `tax`: number or null. `currency`: string, number or null (its
 *   type is undocumented: a code or an id). The other documented fields: string or null. Unknown fields: any
 *   JSON value.
 */
import { z } from 'zod';
import {
  type CanonicalCustomer,
  DROPPED_CUSTOMER_FIELDS,
  jsonValueSchema,
  type KnownCustomerField,
  MAX_CUSTOMER_ID,
  stableStringify,
} from '../customer.ts';
import type { ParsedCustomer } from './types.ts';

const jsonValue = jsonValueSchema;

const nullableNumber = z.number().nullable().optional();
const nullableString = z.string().nullable().optional();

const fieldSchemas = {
  id: z.number().int().min(0).max(MAX_CUSTOMER_ID),
  organization: nullableNumber,
  name: nullableString,
  status: nullableNumber,
  email: nullableString,
  contact: nullableString,
  address: nullableString,
  city: nullableString,
  zip_code: nullableString,
  state: nullableString,
  country: nullableNumber,
  phone: nullableString,
  mobile_phone: nullableString,
  tax: nullableNumber,
  currency: z.union([z.string(), z.number()]).nullable().optional(),
  legal_notice: nullableString,
  communication_culture_code: nullableString,
  notes: nullableString,
} satisfies Record<KnownCustomerField, z.ZodType>;

/** The canonical customer, as a zod schema over the lower-cased record. */
export const canonicalCustomerInputSchema = z.object(fieldSchemas).catchall(jsonValue);

const DROPPED: ReadonlySet<string> = new Set(DROPPED_CUSTOMER_FIELDS);

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a non-integer number';
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idOf(value: unknown): number | undefined {
  const id =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,15}$/.test(value.trim())
        ? Number(value.trim())
        : undefined;
  return id !== undefined && Number.isSafeInteger(id) && id >= 0 && id <= MAX_CUSTOMER_ID ? id : undefined;
}

function sameJson(a: unknown, b: unknown): boolean {
  const pa = jsonValue.safeParse(a);
  const pb = jsonValue.safeParse(b);
  if (!pa.success || !pb.success) return Object.is(a, b);
  return stableStringify(pa.data) === stableStringify(pb.data);
}

/** Normalises one raw record (as parsed from JSON) into a canonical customer or a rejection. */
export function normalizeCustomer(raw: unknown): ParsedCustomer {
  if (!isPlainObject(raw)) {
    return { ok: false, id: undefined, reason: `record is ${describeType(raw)}, not an object` };
  }
  // A Map, then Object.fromEntries: a key such as "__proto__" stays an ordinary own property.
  const fields = new Map<string, unknown>();
  const originalKey = new Map<string, string>();
  const conflicts: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const lower = key.toLowerCase();
    if (DROPPED.has(lower)) continue;
    const seen = originalKey.get(lower);
    if (seen !== undefined) {
      if (!sameJson(fields.get(lower), value)) {
        conflicts.push(`keys '${seen}' and '${key}' differ only by case but have different values`);
      }
      continue;
    }
    originalKey.set(lower, key);
    fields.set(lower, value);
  }
  const lowered: Record<string, unknown> = Object.fromEntries(fields);

  const id = idOf(fields.get('id'));
  if (conflicts.length > 0) return { ok: false, id, reason: conflicts.join('; ') };

  const rawId = fields.get('id');
  if (typeof rawId === 'string' && id !== undefined) {
    return {
      ok: false,
      id,
      reason:
        `id is the string ${JSON.stringify(rawId)}, not a number: a string id is not accepted because ` +
        'the canonical id is a JSON number and mixing both forms would change the record hash (a false update)',
    };
  }

  const parsed = canonicalCustomerInputSchema.safeParse(lowered);
  if (!parsed.success) {
    const reasons = parsed.error.issues.slice(0, 5).map((issue) => {
      const path = issue.path.map(String).join('.') || '(record)';
      const top = issue.path[0];
      const got = top === undefined ? raw : fields.get(String(top));
      if (path === 'id' && got === undefined) return 'id is missing';
      return `${path}: ${expectation(String(top))}, got ${describeType(got)}`;
    });
    const more = parsed.error.issues.length > 5 ? ` (and ${parsed.error.issues.length - 5} more)` : '';
    return { ok: false, id, reason: `${reasons.join('; ')}${more}` };
  }

  // Zod validated the values; the record returned is the lower-cased one, values untouched.
  const customer = lowered as CanonicalCustomer;
  return { ok: true, customer };
}

function expectation(field: string): string {
  switch (field) {
    case 'id':
      return 'expected an integer';
    case 'organization':
    case 'status':
    case 'country':
    case 'tax':
      return 'expected a number or null';
    case 'currency':
      return 'expected a string, number or null';
    default:
      return field in fieldSchemas ? 'expected a string or null' : 'expected a JSON value';
  }
}
