/** The public shapes of the sandbox Nutcache API (options, the running sandbox, its controls) and its constants. */
import type { CustomerInput, SandboxCustomer } from './data.ts';
import type { FaultHandle, FaultSpec, KeyCasing } from './faults.ts';
import type { RateLimits } from './rate-limit.ts';
import type { CrmStandIn } from './routes/crm.ts';

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
  /** Serve the admin endpoint under `/admin/` (routes/admin.ts; default false). */
  readonly admin?: boolean;
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

  /** The CRM stand-in (HubSpot-like and Salesforce-like upserts) served beside the API (routes/crm.ts). */
  readonly crm: CrmStandIn;

  /** Errors thrown by `mutate` fault callbacks (they are answered 500 or, after the answer, kept here). */
  readonly errors: readonly Error[];

  close(): Promise<void>;
}
