/**
 * The sandbox Nutcache API: a loopback HTTP server (node:http) that behaves like the documented Nutcache
 * web API (customers listing and single customer, OAuth2 password-grant token, organizations; nut-basic and
 * bearer auth; api-version and OrganizationGuid headers; per-API-key rate limits), with a programmatic
 * control surface for tests, the local demo and the benchmark: data mutations, fault injection, key-casing
 * modes, token expiry, request statistics.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { JsonValue } from '../shared/customer.ts';
import {
  type CustomerInput,
  CustomerStore,
  documentedCustomers,
  FIRST_GENERATED_ID,
  generateCustomers,
  type SandboxCustomer,
  SEED_ORGANIZATION_ID,
  seededRandom,
} from './data.ts';
import {
  applyKeyCasing,
  encodeReflection,
  type FaultAction,
  type FaultHandle,
  FaultRegistry,
  type FaultSpec,
  htmlErrorPage,
  type KeyCasing,
  type OversizedFault,
  type ReflectFault,
  type RequestFacts,
  reflectedText,
  retryAfterHeader,
} from './faults.ts';
import { type RateLimits, SlidingWindowLimiter } from './rate-limit.ts';

export interface SandboxCredentials {
  readonly apiKey: string;
  readonly username: string;
  readonly password: string;
}

/** The credentials of the documentation's sample `nut-basic` header (decoded). */
export const DEMO_CREDENTIALS: SandboxCredentials = {
  apiKey: 'aYzORmnGi0xpixBu49oyzrJjGfFcfwgQ2rxvhitd',
  username: 'apidocs@apidocs.com',
  password: 'password',
};

/** The organization of the documentation's examples. */
export const DEFAULT_ORGANIZATION_GUID = '846E176E-7C4B-4BFD-A894-C98F2988927E';

/** OWIN's default token lifetime, as documented: 14 days less a second. */
export const DEFAULT_TOKEN_EXPIRES_IN = 1_209_599;

/** The only api-version the sandbox (and the documentation) knows. */
export const API_VERSION = '3';

export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_PAGE_LIMIT = 10;

/** Time as the sandbox sees it (rate-limit windows, token expiry); inject one to test without waiting. */
export interface SandboxClock {
  now(): number;
}

export interface SandboxOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Accepted credentials (default: the documented demo values). Several users give several API keys. */
  readonly credentials?: Partial<SandboxCredentials> | readonly SandboxCredentials[];
  /** The organization (default `846E176E-7C4B-4BFD-A894-C98F2988927E`). */
  readonly organizationGuid?: string;
  /**
   * Several organizations: the first holds the seed data (id 1686), the others (ids 1687, …) start empty.
   * Overrides `organizationGuid`.
   */
  readonly organizationGuids?: readonly string[];
  /** Include the eight documented customers of the seed page (default true). */
  readonly documented?: boolean;
  /** How many generated customers to add (default 0). */
  readonly generated?: number;
  /** Seed of the generated customers and of fault probabilities (default 1). */
  readonly seed?: number;
  /** Rate limits per API key (default 5/s, 200/min); null disables them. */
  readonly rateLimit?: RateLimits | null;
  /** Added to every answer, in milliseconds (default 0). */
  readonly latencyMs?: number;
  /** `expires_in` of issued tokens, in seconds (default 1,209,599). */
  readonly tokenExpiresIn?: number;
  /** Key casing of served records (default `documented`). */
  readonly keyCasing?: KeyCasing;
  /** Clock for rate limits and token expiry (default `Date.now`). */
  readonly clock?: SandboxClock;
  /** Called after every answer (for a request log; holds no credential). */
  readonly onRequest?: (entry: RequestLogEntry) => void;
}

export interface SandboxStats {
  /** Every HTTP request received. */
  readonly requests: number;
  /** Requests per route: `customers`, `customers/{id}`, `token`, `organizations`, or the raw path. */
  readonly byPath: Readonly<Record<string, number>>;
  /** Answers per HTTP status (0: connection reset). */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Requests answered 429 because the client exceeded the rate limits (not injected 429s). */
  readonly rateLimitViolations: number;
  /** Every 429 answer: violations plus injected ones. */
  readonly throttled: number;
  /** Most accepted requests seen in one rolling second / minute for one API key. */
  readonly peakPerSecond: number;
  readonly peakPerMinute: number;
  readonly tokensIssued: number;
  /** Faults that fired. */
  readonly faultsFired: number;
  /** Bytes of `oversized` fault bodies written (an endless body stops when the client goes away). */
  readonly oversizedBytesSent: number;
}

export interface RequestLogEntry {
  /** Sandbox clock time the request arrived. */
  readonly at: number;
  readonly method: string;
  /** Path relative to /webapi/ with the query string (never a credential: those travel in headers/body). */
  readonly path: string;
  readonly route: string;
  /** 0 when the connection was reset. */
  readonly status: number;
  readonly durationMs: number;
}

/** Control over issued bearer tokens. */
export interface SandboxTokens {
  /** Tokens issued so far. */
  readonly issued: number;
  /** Tokens neither expired nor revoked. */
  readonly active: number;
  /** Revokes one token, or every token; returns how many were revoked. */
  revoke(token?: string): number;
  /** Makes every issued token expired now (as if its `expires_in` had passed). */
  expireAll(): void;
  /** Changes `expires_in` for tokens issued from now on. */
  setExpiresIn(seconds: number): void;
}

/** The customers of one organization: the mutation API. */
export interface SandboxCustomers {
  create(input?: CustomerInput): SandboxCustomer;
  update(id: number, patch: CustomerInput): SandboxCustomer;
  remove(id: number): boolean;
  get(id: number): SandboxCustomer | undefined;
  list(): SandboxCustomer[];
  reset(): void;
  readonly size: number;
}

/**
 * A running sandbox. The mutation methods it inherits act on the first organization, except `reset`,
 * which restores the initial customers of every organization (faults, casing and stats are left alone).
 */
export interface Sandbox extends SandboxCustomers {
  /** Base URL, ending in `/webapi/`, e.g. `http://127.0.0.1:40123/webapi/`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The first accepted credentials. */
  readonly credentials: SandboxCredentials;
  /** The first organization's GUID (the one holding the seed data). */
  readonly organizationGuid: string;
  readonly organizationGuids: readonly string[];
  /** The customers of any organization (GUID case-insensitive). */
  organization(guid: string): SandboxCustomers;

  readonly stats: SandboxStats;
  resetStats(): void;
  /** The most recent requests (up to 100,000), oldest first. */
  readonly log: readonly RequestLogEntry[];

  /** Registers a fault; see `FaultSpec`. */
  inject(spec: FaultSpec): FaultHandle;
  /** Shorthand: run `change` once page `page` of the listing has been answered (a page shift). */
  afterPage(page: number, change: () => void): FaultHandle;
  clearFaults(): void;
  readonly faults: readonly FaultHandle[];

  setKeyCasing(casing: KeyCasing): void;
  readonly keyCasing: KeyCasing;
  setLatency(ms: number): void;
  readonly tokens: SandboxTokens;

  /** Errors thrown by `mutate` fault callbacks (they are answered 500 or, after the answer, kept here). */
  readonly errors: readonly Error[];

  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_LOG = 100_000;
const MAX_BODY = 16 * 1024;

const tokenForm = z.object({
  grant_type: z.string(),
  username: z.string().min(1),
  password: z.string().min(1),
  api_key: z.string().min(1),
});

const positiveInt = z
  .string()
  .regex(/^[0-9]{1,9}$/, 'must be a positive integer')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be a positive integer'));

interface Organization {
  readonly guid: string;
  readonly id: number;
  readonly name: string;
  readonly store: CustomerStore;
}

interface IssuedToken {
  readonly apiKey: string;
  expiresAt: number;
  revoked: boolean;
}

/** An answer ready to be written. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** OAuth2 error code, for the token endpoint's `{error, error_description}` body. */
    readonly oauthError?: string,
  ) {
    super(message);
  }
}

function json(status: number, value: JsonValue, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

function normaliseCredentials(input: SandboxOptions['credentials']): SandboxCredentials[] {
  if (Array.isArray(input)) {
    if (input.length === 0) throw new Error('credentials: at least one user is needed');
    return input.map((c: SandboxCredentials) => ({ ...c }));
  }
  const partial = (input ?? {}) as Partial<SandboxCredentials>;
  return [{ ...DEMO_CREDENTIALS, ...partial }];
}

/** Starts a sandbox Nutcache API and resolves once it listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const clock: SandboxClock = options.clock ?? { now: () => Date.now() };
  const users = normaliseCredentials(options.credentials);
  const seed = options.seed ?? 1;
  const generatedCount = options.generated ?? 0;
  if (!(Number.isInteger(generatedCount) && generatedCount >= 0)) {
    throw new Error(`generated must be a non-negative integer, got ${generatedCount}`);
  }
  const guids = options.organizationGuids ?? [options.organizationGuid ?? DEFAULT_ORGANIZATION_GUID];
  if (guids.length === 0) throw new Error('at least one organization is needed');
  const organizations: Organization[] = guids.map((guid, i) => {
    if (!GUID.test(guid)) throw new Error(`organization GUID is malformed: ${guid}`);
    const id = SEED_ORGANIZATION_ID + i;
    const initial =
      i === 0
        ? [
            ...(options.documented === false ? [] : documentedCustomers()),
            ...generateCustomers(generatedCount, seed, id, FIRST_GENERATED_ID),
          ]
        : [];
    return {
      guid,
      id,
      name: i === 0 ? 'Sample organization' : `Organization ${id}`,
      store: new CustomerStore(id, initial),
    };
  });
  const primary = organizations[0];
  if (!primary) throw new Error('at least one organization is needed');
  const findOrganization = (guid: string): Organization | undefined =>
    organizations.find((o) => o.guid.toLowerCase() === guid.toLowerCase());

  const limiter = new SlidingWindowLimiter(options.rateLimit === undefined ? {} : options.rateLimit);
  const faults = new FaultRegistry(seededRandom(seed ^ 0x5eed));
  let keyCasing: KeyCasing = options.keyCasing ?? 'documented';
  let latencyMs = options.latencyMs ?? 0;
  let tokenExpiresIn = options.tokenExpiresIn ?? DEFAULT_TOKEN_EXPIRES_IN;
  const tokens = new Map<string, IssuedToken>();
  const errors: Error[] = [];
  let log: RequestLogEntry[] = [];

  const counters = {
    requests: 0,
    byPath: {} as Record<string, number>,
    byStatus: {} as Record<string, number>,
    rateLimitViolations: 0,
    throttled: 0,
    tokensIssued: 0,
    faultsFired: 0,
    oversizedBytesSent: 0,
  };
  const resetCounters = (): void => {
    counters.requests = 0;
    counters.byPath = {};
    counters.byStatus = {};
    counters.rateLimitViolations = 0;
    counters.throttled = 0;
    counters.tokensIssued = 0;
    counters.faultsFired = 0;
    counters.oversizedBytesSent = 0;
    limiter.resetPeaks();
    log = [];
  };

  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const t = setTimeout(() => {
            timers.delete(t);
            resolve();
          }, ms);
          timers.add(t);
        });

  // -------------------------------------------------------------------------------------------------
  // Authentication

  /** The API key of an authenticated request, or an HttpProblem(401). */
  const authenticate = (header: string | undefined): string => {
    const denied = (detail: string, scheme: string): HttpProblem =>
      new HttpProblem(401, `Authorization has been denied for this request: ${detail}.`, {
        'www-authenticate': scheme,
      });
    if (!header) throw denied('no Authorization header', 'nut-basic');
    const match = /^\s*([A-Za-z-]+)\s+(\S+)\s*$/.exec(header);
    if (!match) throw denied('malformed Authorization header', 'nut-basic');
    const scheme = (match[1] ?? '').toLowerCase();
    const value = match[2] ?? '';
    if (scheme === 'nut-basic') {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw denied('credentials are not base64', 'nut-basic');
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const first = decoded.indexOf(':');
      const second = first < 0 ? -1 : decoded.indexOf(':', first + 1);
      if (second < 0) throw denied('credentials must be apikey:username:password', 'nut-basic');
      const apiKey = decoded.slice(0, first);
      const username = decoded.slice(first + 1, second);
      const password = decoded.slice(second + 1);
      const user = users.find(
        (u) =>
          u.apiKey === apiKey &&
          u.username.toLowerCase() === username.toLowerCase() &&
          u.password === password,
      );
      if (!user) throw denied('invalid credentials', 'nut-basic');
      return user.apiKey;
    }
    if (scheme === 'bearer') {
      const token = tokens.get(value);
      const invalid = 'Bearer error="invalid_token"';
      if (!token) throw denied('unknown token', invalid);
      if (token.revoked) throw denied('token revoked', invalid);
      if (clock.now() >= token.expiresAt) throw denied('token expired', invalid);
      return token.apiKey;
    }
    throw denied(`unsupported scheme '${match[1] ?? ''}'`, 'nut-basic');
  };

  const enforceRateLimit = (apiKey: string): void => {
    const decision = limiter.check(apiKey, clock.now());
    if (decision.allowed) return;
    counters.rateLimitViolations++;
    const limit = decision.window === 'second' ? 'second' : decision.window === 'minute' ? 'minute' : 'day';
    throw new HttpProblem(429, `API calls quota exceeded! Too many requests per ${limit}.`, {
      'retry-after': String(decision.retryAfterSeconds),
    });
  };

  const requireApiVersion = (req: IncomingMessage): void => {
    const v = req.headers['api-version'];
    if (v === undefined || v === '') throw new HttpProblem(400, 'The api-version header is required.');
    if (Array.isArray(v) || v.trim() !== API_VERSION) {
      throw new HttpProblem(400, `api-version ${JSON.stringify(v)} is not supported; use ${API_VERSION}.`);
    }
  };

  const requireOrganization = (req: IncomingMessage): Organization => {
    const g = req.headers.organizationguid;
    if (g === undefined || g === '') throw new HttpProblem(400, 'The OrganizationGuid header is required.');
    if (Array.isArray(g) || !GUID.test(g.trim()))
      throw new HttpProblem(400, 'The OrganizationGuid header is not a GUID.');
    const found = findOrganization(g.trim());
    // 403, not 401: the credentials were accepted; the user simply has no access to this organization.
    // A 401 would tell a client its credentials (or token) are bad and make it re-authenticate in vain.
    if (!found) throw new HttpProblem(403, 'You do not have access to this organization.');
    return found;
  };

  // -------------------------------------------------------------------------------------------------
  // Routes

  const renderRecord = (r: SandboxCustomer): Record<string, JsonValue> =>
    applyKeyCasing(r as Record<string, JsonValue>, keyCasing);

  const parseListingQuery = (query: URLSearchParams): { page: number; limit: number } => {
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
  };

  /** A listing page; `nextHref` replaces the navigation-next link (a reflecting fault's hostile link). */
  const listing = (org: Organization, page: number, limit: number, nextHref?: string): Answer => {
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
    return json(200, { links, customers: records.map(renderRecord) });
  };

  const single = (org: Organization, id: number): Answer => {
    const record = org.store.peek(id);
    if (!record) throw new HttpProblem(404, `Customer ${id} was not found.`);
    return json(200, { customers: [renderRecord(record)] });
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          reject(new HttpProblem(413, 'The request body is too large.'));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  /** Validates a password-grant form; returns the API key. Errors mirror OWIN's token endpoint (400). */
  const tokenRequest = async (req: IncomingMessage): Promise<string> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const body = await readBody(req);
    const invalid = (error: string, description: string): HttpProblem =>
      new HttpProblem(400, description, {}, error);
    if (type !== 'application/x-www-form-urlencoded') {
      throw invalid('invalid_request', 'The request must be application/x-www-form-urlencoded.');
    }
    const form = tokenForm.safeParse(Object.fromEntries(new URLSearchParams(body)));
    if (!form.success)
      throw invalid('invalid_request', 'grant_type, username, password and api_key are required.');
    if (form.data.grant_type !== 'password')
      throw invalid('unsupported_grant_type', 'Only grant_type=password is supported.');
    const user = users.find(
      (u) =>
        u.apiKey === form.data.api_key &&
        u.username.toLowerCase() === form.data.username.toLowerCase() &&
        u.password === form.data.password,
    );
    // OWIN (behind Nutcache's /token) answers a bad user name, password or key with 400 invalid_grant.
    if (!user) throw invalid('invalid_grant', 'The user name or password is incorrect.');
    return user.apiKey;
  };

  const issueToken = (apiKey: string): Answer => {
    const token = randomBytes(32).toString('base64url');
    tokens.set(token, { apiKey, expiresAt: clock.now() + tokenExpiresIn * 1000, revoked: false });
    counters.tokensIssued++;
    return json(200, { access_token: token, token_type: 'bearer', expires_in: tokenExpiresIn });
  };

  const organizationsBody = (): Answer =>
    json(200, {
      organizations: organizations.map((o) => ({
        type: 'organizations',
        id: o.id,
        guid: o.guid,
        name: o.name,
        links: [{ href: `organizations/${o.id}`, rel: 'self', type: 'GET' }],
      })),
    });

  // -------------------------------------------------------------------------------------------------
  // The request pipeline

  const write = (res: ServerResponse, answer: Answer): void => {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(answer.status, {
      ...answer.headers,
      'content-length': String(Buffer.byteLength(answer.body)),
    });
    res.end(answer.body);
  };

  /** An `oversized` fault: `{"customers":[`, then padding with backpressure until `bytes` or the client leaves. */
  const streamOversized = async (res: ServerResponse, fault: OversizedFault): Promise<void> => {
    const open = '{"customers":[';
    const close = ']}';
    const total = fault.bytes ?? Number.POSITIVE_INFINITY;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (fault.declareLength && Number.isFinite(total)) headers['content-length'] = String(total);
    res.writeHead(200, headers);
    res.write(open);
    let sent = open.length;
    const chunk = Buffer.alloc(64 * 1024, ' ');
    while (!res.destroyed && sent + close.length < total) {
      const piece = chunk.subarray(0, Math.min(chunk.length, total - close.length - sent));
      sent += piece.length;
      counters.oversizedBytesSent += piece.length;
      if (!res.write(piece))
        await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
    }
    if (!res.destroyed) res.end(close);
  };

  /** A `reflect` fault: the request's Authorization (and the credentials in it) echoed back at the client. */
  const reflectAnswer = (
    fault: ReflectFault,
    authorization: string | undefined,
    listed: { org: Organization; page: number; limit: number } | undefined,
  ): Answer => {
    const echo = encodeReflection(reflectedText(authorization), fault.encoding ?? 'raw');
    if (fault.into === 'next-link' && listed) {
      const { org, page, limit } = listed;
      return listing(org, page, limit, `customers/${echo}?limit=${limit}&page=${page + 1}&echo=${echo}`);
    }
    const status = fault.status ?? 400;
    if (fault.encoding === 'html') {
      const body = `<!DOCTYPE html><html><body><h1>Bad request</h1><p>${echo}</p></body></html>`;
      return { status, headers: { 'content-type': 'text/html; charset=utf-8' }, body };
    }
    return json(status, { message: `No HTTP resource was found that matches the request '${echo}'.` });
  };

  const problemAnswer = (p: HttpProblem): Answer => {
    if (p.oauthError) return json(p.status, { error: p.oauthError, error_description: p.message }, p.headers);
    return json(p.status, { message: p.message }, p.headers);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const arrived = clock.now();
    const started = performance.now();
    counters.requests++;
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const fullPath = url.pathname;
    const prefix = /^\/webapi\//i.exec(fullPath);
    const rel = prefix ? fullPath.slice(prefix[0].length).replace(/\/+$/, '').toLowerCase() : fullPath;
    const idMatch = /^customers\/([^/]+)$/.exec(rel);
    const route = !prefix
      ? fullPath
      : rel === 'customers' || rel === 'token' || rel === 'organizations'
        ? rel
        : idMatch
          ? 'customers/{id}'
          : rel;
    counters.byPath[route] = (counters.byPath[route] ?? 0) + 1;
    const after: (() => void)[] = [];
    let status = 0;

    const finish = (): void => {
      counters.byStatus[String(status)] = (counters.byStatus[String(status)] ?? 0) + 1;
      if (status === 429) counters.throttled++;
      const entry: RequestLogEntry = {
        at: arrived,
        method,
        path: `${rel}${url.search}`,
        route,
        status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      };
      log.push(entry);
      if (log.length > MAX_LOG) log = log.slice(log.length - MAX_LOG / 2);
      options.onRequest?.(entry);
      for (const run of after) {
        try {
          run();
        } catch (error) {
          errors.push(error instanceof Error ? error : new Error(String(error)));
        }
      }
    };

    let answer: Answer;
    let truncate: { fraction: number; framing: 'complete' | 'abort' } | undefined;
    try {
      if (!prefix) throw new HttpProblem(404, `No resource at ${fullPath}.`);
      const known =
        route === 'customers' || route === 'customers/{id}' || route === 'token' || route === 'organizations';
      if (!known)
        throw new HttpProblem(404, `No HTTP resource was found that matches the request URI '${rel}'.`);
      const allowed = route === 'token' ? 'POST' : 'GET';
      if (method !== allowed)
        throw new HttpProblem(405, `The requested resource does not support ${method}.`, { allow: allowed });

      let apiKey: string;
      if (route === 'token') {
        apiKey = await tokenRequest(req);
      } else {
        requireApiVersion(req);
        apiKey = authenticate(req.headers.authorization);
      }
      enforceRateLimit(apiKey);

      let org: Organization | undefined;
      let page: number | undefined;
      let limit = DEFAULT_PAGE_LIMIT;
      let customerId: number | undefined;
      if (route === 'customers' || route === 'customers/{id}') org = requireOrganization(req);
      if (route === 'customers') ({ page, limit } = parseListingQuery(url.searchParams));
      if (route === 'customers/{id}') {
        const raw = decodeURIComponent(idMatch?.[1] ?? '');
        const parsed = positiveInt.safeParse(raw);
        if (!parsed.success) throw new HttpProblem(400, 'The customer id must be a positive integer.');
        customerId = parsed.data;
      }

      const facts: RequestFacts = { method, path: rel, route, page, customerId };
      const fired = faults.take(facts);
      counters.faultsFired += fired.length;
      let terminal: FaultAction | undefined;
      for (const action of fired) {
        if (action.kind === 'delay') await sleep(action.ms);
        else if (action.kind === 'mutate') {
          if (action.when === 'before') action.run();
          else after.push(action.run);
        } else if (action.kind === 'truncated') {
          truncate ??= { fraction: action.fraction ?? 0.5, framing: action.framing ?? 'complete' };
        } else terminal ??= action;
      }

      if (terminal?.kind === 'oversized') {
        await sleep(latencyMs);
        status = 200;
        await streamOversized(res, terminal);
        finish();
        return;
      }
      if (terminal?.kind === 'reset') {
        await sleep(latencyMs);
        status = 0;
        if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
        else req.socket.destroy();
        finish();
        return;
      }
      if (terminal?.kind === 'status') {
        const headers: Record<string, string> = {};
        if (terminal.retryAfter !== undefined) headers['retry-after'] = retryAfterHeader(terminal.retryAfter);
        answer = terminal.body
          ? {
              status: terminal.status,
              headers: { 'content-type': terminal.contentType ?? 'text/plain', ...headers },
              body: terminal.body,
            }
          : json(terminal.status, { message: 'An error has occurred.' }, headers);
      } else if (terminal?.kind === 'reflect') {
        const listed = route === 'customers' && org ? { org, page: page ?? 1, limit } : undefined;
        answer = reflectAnswer(terminal, req.headers.authorization, listed);
      } else if (terminal?.kind === 'html') {
        const s = terminal.status ?? 500;
        answer = {
          status: s,
          headers: { 'content-type': 'text/html; charset=utf-8' },
          body: htmlErrorPage(s),
        };
      } else if (route === 'token') {
        answer = issueToken(apiKey);
      } else if (route === 'organizations') {
        answer = organizationsBody();
      } else if (route === 'customers' && org) {
        answer = listing(org, page ?? 1, limit);
      } else if (org && customerId !== undefined) {
        answer = single(org, customerId);
      } else {
        throw new Error(`unrouted request ${method} ${rel}`);
      }
    } catch (error) {
      if (error instanceof HttpProblem) answer = problemAnswer(error);
      else {
        errors.push(error instanceof Error ? error : new Error(String(error)));
        answer = json(500, { message: 'An error has occurred.' });
      }
    }

    await sleep(latencyMs);
    status = answer.status;
    if (truncate && answer.status < 400) {
      const bytes = Buffer.from(answer.body, 'utf8');
      const kept = bytes.subarray(0, Math.floor(bytes.length * truncate.fraction));
      if (truncate.framing === 'abort') {
        if (!res.destroyed) {
          res.writeHead(answer.status, { ...answer.headers, 'content-length': String(bytes.length) });
          res.write(kept, () => res.destroy());
        }
      } else {
        write(res, { ...answer, body: kept.toString('utf8') });
      }
    } else {
      write(res, answer);
    }
    finish();
  };

  // -------------------------------------------------------------------------------------------------
  // Server

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      errors.push(error instanceof Error ? error : new Error(String(error)));
      if (!res.headersSent && !res.destroyed) write(res, json(500, { message: 'An error has occurred.' }));
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;

  const customersOf = (o: Organization): SandboxCustomers => ({
    create: (input) => o.store.create(input),
    update: (id, patch) => o.store.update(id, patch),
    remove: (id) => o.store.remove(id),
    get: (id) => o.store.get(id),
    list: () => o.store.list(),
    reset: () => o.store.reset(),
    get size() {
      return o.store.size;
    },
  });

  const tokenControl: SandboxTokens = {
    get issued() {
      return counters.tokensIssued;
    },
    get active() {
      const now = clock.now();
      return [...tokens.values()].filter((t) => !t.revoked && now < t.expiresAt).length;
    },
    revoke(token?: string): number {
      let n = 0;
      for (const [value, t] of tokens) {
        if ((token === undefined || token === value) && !t.revoked) {
          t.revoked = true;
          n++;
        }
      }
      return n;
    },
    expireAll(): void {
      const now = clock.now();
      for (const t of tokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
    },
    setExpiresIn(seconds: number): void {
      if (!(Number.isInteger(seconds) && seconds > 0))
        throw new Error('expires_in must be a positive integer');
      tokenExpiresIn = seconds;
    },
  };

  const primaryCustomers = customersOf(primary);

  const sandbox: Sandbox = {
    url: `http://${urlHost}:${port}/webapi/`,
    port,
    host,
    credentials: { ...(users[0] ?? DEMO_CREDENTIALS) },
    organizationGuid: primary.guid,
    organizationGuids: organizations.map((o) => o.guid),
    organization(guid: string): SandboxCustomers {
      const o = findOrganization(guid);
      if (!o) throw new Error(`no sandbox organization ${guid}`);
      return customersOf(o);
    },
    create: primaryCustomers.create,
    update: primaryCustomers.update,
    remove: primaryCustomers.remove,
    get: primaryCustomers.get,
    list: primaryCustomers.list,
    reset(): void {
      for (const o of organizations) o.store.reset();
    },
    get size() {
      return primary.store.size;
    },
    get stats(): SandboxStats {
      return {
        requests: counters.requests,
        byPath: { ...counters.byPath },
        byStatus: { ...counters.byStatus },
        rateLimitViolations: counters.rateLimitViolations,
        throttled: counters.throttled,
        peakPerSecond: limiter.peakPerSecond,
        peakPerMinute: limiter.peakPerMinute,
        tokensIssued: counters.tokensIssued,
        faultsFired: counters.faultsFired,
        oversizedBytesSent: counters.oversizedBytesSent,
      };
    },
    resetStats: resetCounters,
    get log() {
      return log;
    },
    inject: (spec) => faults.add(spec),
    afterPage: (page, change) => faults.add({ kind: 'mutate', when: 'after', page, run: change }),
    clearFaults: () => faults.clear(),
    get faults() {
      return faults.active;
    },
    setKeyCasing(casing: KeyCasing): void {
      keyCasing = casing;
    },
    get keyCasing() {
      return keyCasing;
    },
    setLatency(ms: number): void {
      if (!(ms >= 0)) throw new Error('latency must be >= 0 ms');
      latencyMs = ms;
    },
    tokens: tokenControl,
    errors,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return sandbox;
}
