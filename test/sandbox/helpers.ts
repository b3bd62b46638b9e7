/** Plain-fetch helpers for the sandbox tests: the documented headers, and a listing walker. */
import type { Sandbox } from '../../sandbox/server.ts';

export function basicAuth(c: { apiKey: string; username: string; password: string }): string {
  return `nut-basic ${Buffer.from(`${c.apiKey}:${c.username}:${c.password}`).toString('base64')}`;
}

/** The headers every documented request carries, for the sandbox's first user and organization. */
export function headers(sandbox: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  return {
    authorization: basicAuth(sandbox.credentials),
    'api-version': '3',
    organizationguid: sandbox.organizationGuid,
    ...extra,
  };
}

export async function get(
  sandbox: Sandbox,
  path: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(new URL(path, sandbox.url), { headers: headers(sandbox, extra) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export interface Link {
  href: string;
  rel: string;
  type: string;
}
export interface ListBody {
  links: Link[];
  customers: Record<string, unknown>[];
}

export async function getJson<T>(
  sandbox: Sandbox,
  path: string,
  extra: Record<string, string> = {},
): Promise<T> {
  const res = await get(sandbox, path, extra);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text) as T;
}

/** Walks the listing from `first`, following each relative `navigation-next` href against the base URL. */
export async function walkListing(
  sandbox: Sandbox,
  first = 'customers?limit=100',
): Promise<{ pages: ListBody[]; ids: number[]; requests: number }> {
  const pages: ListBody[] = [];
  let next: string | undefined = first;
  while (next !== undefined) {
    const body: ListBody = await getJson<ListBody>(sandbox, next);
    pages.push(body);
    next = body.links.find((l) => l.rel === 'navigation-next')?.href;
    if (pages.length > 10_000) throw new Error('listing does not end');
  }
  const ids = pages.flatMap((p) => p.customers.map((c) => c.id as number));
  return { pages, ids, requests: pages.length };
}
