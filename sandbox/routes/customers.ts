/** The customers listing (`GET /webapi/customers`) and single customer (`GET /webapi/customers/{id}`). */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { JsonValue } from '../../shared/customer.ts';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../api.ts';
import type { SandboxCustomer } from '../data.ts';
import { applyKeyCasing } from '../faults.ts';
import { type Answer, HttpProblem, json } from '../http.ts';
import { findOrganization, GUID, type Organization, type SandboxState } from '../state.ts';

const positiveInt = z
  .string()
  .regex(/^[0-9]{1,9}$/, 'must be a positive integer')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be a positive integer'));

/** The organization named by the OrganizationGuid header, or an HttpProblem (400, or 403 when unknown). */
export function requireOrganization(state: SandboxState, req: IncomingMessage): Organization {
  const g = req.headers.organizationguid;
  if (g === undefined || g === '') throw new HttpProblem(400, 'The OrganizationGuid header is required.');
  if (Array.isArray(g) || !GUID.test(g.trim()))
    throw new HttpProblem(400, 'The OrganizationGuid header is not a GUID.');
  const found = findOrganization(state, g.trim());
  // 403, not 401: the credentials were accepted; the user simply has no access to this organization.
  // A 401 would tell a client its credentials (or token) are bad and make it re-authenticate in vain.
  if (!found) throw new HttpProblem(403, 'You do not have access to this organization.');
  return found;
}

/** `page` and `limit` of a listing request (each at most once, case-insensitive). */
export function parseListingQuery(query: URLSearchParams): { page: number; limit: number } {
  const seen = new Map<string, string>();
  for (const [rawKey, value] of query) {
    const key = rawKey.toLowerCase();
    if (seen.has(key)) throw new HttpProblem(400, `The query parameter '${key}' is given more than once.`);
    seen.set(key, value);
  }
  const parse = (name: 'page' | 'limit', fallback: number): number => {
    const raw = seen.get(name);
    if (raw === undefined) return fallback;
    const r = positiveInt.safeParse(raw);
    if (!r.success) throw new HttpProblem(400, `The '${name}' parameter must be a positive integer.`);
    return r.data;
  };
  const page = parse('page', 1);
  const limit = parse('limit', DEFAULT_PAGE_LIMIT);
  if (limit > MAX_PAGE_LIMIT)
    throw new HttpProblem(400, `The 'limit' parameter must be at most ${MAX_PAGE_LIMIT}.`);
  return { page, limit };
}

/** The id of `customers/{id}` (URL-encoded path segment). */
export function parseCustomerId(segment: string): number {
  const parsed = positiveInt.safeParse(decodeURIComponent(segment));
  if (!parsed.success) throw new HttpProblem(400, 'The customer id must be a positive integer.');
  return parsed.data;
}

function renderRecord(state: SandboxState, r: SandboxCustomer): Record<string, JsonValue> {
  return applyKeyCasing(r as Record<string, JsonValue>, state.settings.keyCasing);
}

/** A listing page; `nextHref` replaces the navigation-next link (a reflecting fault's hostile link). */
export function listing(
  state: SandboxState,
  org: Organization,
  page: number,
  limit: number,
  nextHref?: string,
): Answer {
  const offset = (page - 1) * limit;
  const records = org.store.slice(offset, limit);
  const links: JsonValue[] = [];
  if (nextHref !== undefined || offset + limit < org.store.size) {
    const href = nextHref ?? `customers?limit=${limit}&page=${page + 1}`;
    links.push({ href, rel: 'navigation-next', type: 'GET' });
  }
  if (page > 1) {
    links.push({
      href: `customers?limit=${limit}&page=${page - 1}`,
      rel: 'navigation-previous',
      type: 'GET',
    });
  }
  return json(200, { links, customers: records.map((r) => renderRecord(state, r)) });
}

export function single(state: SandboxState, org: Organization, id: number): Answer {
  const record = org.store.peek(id);
  if (!record) throw new HttpProblem(404, `Customer ${id} was not found.`);
  return json(200, { customers: [renderRecord(state, record)] });
}
