/**
 * The Nutcache HTTP client: authentication, per-API-key rate limiting, retries with backoff, per-request
 * timeouts, an overall deadline, paging over `navigation-next` and record normalisation. It implements
 * the engine's `CustomerSource` port. See docs/nutcache-client.md.
 */
import { z } from 'zod';
import type { Clock, Log } from '../ports.ts';
import { systemClock } from '../util/clock.ts';
import { isLoopbackHost } from '../util/loopback.ts';
import { USER_AGENT } from '../version.ts';
import {
  type AuthScheme,
  BearerTokenCache,
  credentialSecrets,
  type NutcacheCredentials,
  nutBasicToken,
  type TokenResponse,
  tokenRequestBody,
  tokenResponseSchema,
} from './auth.ts';
import {
  type HttpErrorDetails,
  NutcacheAuthError,
  NutcacheConfigError,
  NutcacheDeadlineError,
  NutcacheHttpError,
  NutcacheNetworkError,
  NutcachePagingError,
  NutcacheResponseError,
  NutcacheResponseTooLargeError,
  NutcacheThrottledError,
} from './errors.ts';
import { normalizeCustomer } from './normalize.ts';
import { limiterForApiKey, type RateLimiter, type RateLimitOptions } from './rate-limiter.ts';
import { readCappedBody } from './read-body.ts';
import { Redactor } from './redact.ts';
import { backoffDelay, parseRetryAfter, type RetryOptions, type RetryPolicy, retryPolicy } from './retry.ts';
import type {
  CustomerPage,
  CustomerSource,
  GetCustomerOptions,
  ListCustomersOptions,
  ParsedCustomer,
} from './types.ts';

export const DEFAULT_BASE_URL = 'https://apps.nutcache.com/webapi/';
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 100;
export const DEFAULT_MAX_PAGES = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
export const API_VERSION = '3';

/** The subset of `fetch` the client uses (the global `fetch` fits). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface NutcacheClientConfig {
  /** Default `https://apps.nutcache.com/webapi/`. Must not contain user:password. */
  readonly baseUrl?: string;
  /** Sent as `OrganizationGuid`. Required for customers; `listOrganizations()` works without it. */
  readonly organizationGuid?: string;
  readonly credentials: NutcacheCredentials;
  /** Default `nut-basic`. */
  readonly authScheme?: AuthScheme;
  /** Limits of the process-wide limiter of this API key, or a limiter to share explicitly. */
  readonly rateLimit?: RateLimitOptions | RateLimiter;
  readonly retry?: RetryOptions;
  /** Timeout of one HTTP attempt, body included (default 15 s). */
  readonly requestTimeoutMs?: number;
  /** Epoch ms after which no request starts and no wait continues (NutcacheDeadlineError). */
  readonly deadline?: number;
  /**
   * Largest body read from one response, in bytes (default 16 MiB; a page of 100 customers is a few hundred
   * KB). A longer body is cut off while it streams and the request fails with NutcacheResponseTooLargeError.
   */
  readonly maxResponseBytes?: number;
  /** Pages a listing may have before it is considered a runaway (default 10,000). */
  readonly maxPages?: number;
  readonly clock?: Clock;
  readonly fetch?: FetchLike;
  readonly logger?: Log;
  /** Uniform random numbers in [0, 1) for backoff jitter (default Math.random). */
  readonly random?: () => number;
}

/** One organization the user can see (from `GET organizations`). */
export interface NutcacheOrganization {
  readonly guid: string;
  readonly name?: string;
  readonly id?: number;
}

const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly url: URL;
  readonly attempts: number;
}

interface RequestSpec {
  readonly method: 'GET' | 'POST';
  readonly url: URL;
  readonly signal?: AbortSignal | undefined;
  /** Form body of the token request. */
  readonly form?: string;
  /** Statuses returned to the caller instead of raised (404 for getCustomer). */
  readonly passStatuses?: readonly number[];
  /** The token request itself: no Authorization, no 401 refetch. */
  readonly isTokenRequest?: boolean;
}

type Failure =
  | { readonly kind: 'status'; readonly status: number; readonly excerpt: string }
  | { readonly kind: 'body'; readonly status: number; readonly problem: string; readonly excerpt: string }
  | { readonly kind: 'network'; readonly timedOut: boolean; readonly detail: string };

type AttemptOutcome =
  | { readonly reply: { status: number; text: string; retryAfter: string | null } }
  | { readonly tooLarge: { status: number; tooLarge: string; head: string } }
  | { readonly failure: Failure & { kind: 'network' } };

/** The verdict on one attempt: done, retry (after `waitMs`, else backoff), or repeat with a fresh token. */
type Verdict =
  | { readonly reply: Reply }
  | { readonly failure: Failure; readonly waitMs?: number | undefined }
  | { readonly refetch: true };

interface AttemptState {
  attempt: number;
  retries: number;
  tokenRefetched: boolean;
}

function lowerKeys(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(value)) {
    const lower = k.toLowerCase();
    if (!out.has(lower)) out.set(lower, v);
  }
  return Object.fromEntries(out);
}

const linkSchema = z.object({ href: z.string().min(1), rel: z.string() });

/** The `navigation-next` href of a list envelope, if any (`navigation-prev(ious)` are ignored). */
function nextHref(envelope: Record<string, unknown>): string | undefined {
  const links = envelope.links;
  if (!Array.isArray(links)) return undefined;
  for (const link of links) {
    const parsed = linkSchema.safeParse(lowerKeys(link));
    if (parsed.success && parsed.data.rel.toLowerCase() === 'navigation-next') return parsed.data.href;
  }
  return undefined;
}

function networkDetail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${error.message} (${code})` : `${error.message} (${cause.message})`;
  }
  return error.message;
}

function isHtml(text: string): boolean {
  return /^\s*<(!doctype|html|head|body|\?xml)/i.test(text);
}

/**
 * The base URL, validated: absolute, no user info, https (http only to a loopback host: 127.0.0.0/8, ::1,
 * localhost, so the sandbox works while credentials never travel in clear), a trailing `/`, no query.
 */
function parseBaseUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new NutcacheConfigError('baseUrl is not a valid absolute URL');
  }
  if (url.username || url.password) {
    throw new NutcacheConfigError('baseUrl must not contain a user name or password');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new NutcacheConfigError(`baseUrl must be https, got ${url.protocol}`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new NutcacheConfigError(
      'baseUrl must use https: plain http would send the credentials in clear (http is allowed only to 127.0.0.0/8, ::1 and localhost)',
    );
  }
  url.search = '';
  url.hash = '';
  return url;
}

export class NutcacheClient implements CustomerSource {
  private readonly baseUrl: URL;
  private readonly organizationGuid: string | undefined;
  private readonly credentials: NutcacheCredentials;
  private readonly authScheme: AuthScheme;
  private readonly limiter: RateLimiter;
  private readonly retry: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly maxPages: number;
  private readonly maxResponseBytes: number;
  private readonly clock: Clock;
  private readonly fetchImpl: FetchLike;
  private readonly log: Log;
  private readonly random: () => number;
  private readonly basicToken: string;
  private readonly tokens: BearerTokenCache;
  private readonly issuedTokens = new Set<string>();
  private redactorCache: Redactor;
  private redactorFor = 0;
  private deadlineMs: number | undefined;
  private requests = 0;
  private throttled = 0;

  constructor(config: NutcacheClientConfig) {
    this.baseUrl = parseBaseUrl(config.baseUrl ?? DEFAULT_BASE_URL);

    const { credentials } = config;
    for (const field of ['apiKey', 'username', 'password'] as const) {
      if (typeof credentials?.[field] !== 'string' || credentials[field].length === 0) {
        throw new NutcacheConfigError(`credentials.${field} must be a non-empty string`);
      }
    }
    this.credentials = credentials;
    this.organizationGuid = config.organizationGuid || undefined;
    this.authScheme = config.authScheme ?? 'nut-basic';
    if (this.authScheme !== 'nut-basic' && this.authScheme !== 'bearer') {
      throw new NutcacheConfigError(`authScheme must be 'nut-basic' or 'bearer'`);
    }
    this.clock = config.clock ?? systemClock;
    const rateLimit = config.rateLimit;
    this.limiter =
      rateLimit && 'acquire' in rateLimit
        ? rateLimit
        : limiterForApiKey(credentials.apiKey, rateLimit ?? {}, this.clock);
    this.retry = retryPolicy(config.retry);
    this.requestTimeoutMs = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(this.requestTimeoutMs > 0)) throw new NutcacheConfigError('requestTimeoutMs must be positive');
    this.maxPages = config.maxPages ?? DEFAULT_MAX_PAGES;
    if (!Number.isInteger(this.maxPages) || this.maxPages < 1) {
      throw new NutcacheConfigError('maxPages must be a positive integer');
    }
    this.maxResponseBytes = config.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isSafeInteger(this.maxResponseBytes) || this.maxResponseBytes < 1) {
      throw new NutcacheConfigError('maxResponseBytes must be a positive integer');
    }
    this.deadlineMs = config.deadline;
    this.fetchImpl = config.fetch ?? ((input, init) => fetch(input, init));
    this.log = config.logger ?? silentLog;
    this.random = config.random ?? Math.random;
    this.basicToken = nutBasicToken(credentials);
    this.redactorCache = new Redactor(credentialSecrets(credentials));
    this.tokens = new BearerTokenCache(() => this.fetchToken(), this.clock);
  }

  /** Every HTTP request sent so far: retries and token requests included. */
  get requestCount(): number {
    return this.requests;
  }

  /** Responses with status 429 received so far. */
  get throttledCount(): number {
    return this.throttled;
  }

  /** The overall deadline (epoch ms), if any. */
  get deadline(): number | undefined {
    return this.deadlineMs;
  }

  /** Sets (or clears) the overall deadline, e.g. at the start of each Lambda invocation. */
  setDeadline(deadline: number | undefined): void {
    this.deadlineMs = deadline;
  }

  /** Pages of `GET customers?limit=…`, following `navigation-next` to the last page. */
  listCustomers(options: ListCustomersOptions = {}): AsyncIterable<CustomerPage> {
    const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw new NutcacheConfigError(`limit must be an integer from 1 to ${MAX_PAGE_LIMIT}, got ${limit}`);
    }
    this.requireOrganization();
    const first = new URL(`customers?limit=${limit}&page=1`, this.baseUrl);
    // Each iteration starts a fresh listing from page 1.
    return { [Symbol.asyncIterator]: () => this.customerPages(first, options.signal) };
  }

  private async *customerPages(first: URL, signal: AbortSignal | undefined): AsyncGenerator<CustomerPage> {
    for await (const page of this.pages(first, 'customers', signal)) {
      yield { pageNumber: page.pageNumber, records: page.items.map(normalizeCustomer), last: page.last };
    }
  }

  /** `GET customers/{id}`: the customer, `null` on 404, or `ok: false` when the record cannot be parsed. */
  async getCustomer(id: number, options: GetCustomerOptions = {}): Promise<ParsedCustomer | null> {
    if (!Number.isSafeInteger(id)) throw new NutcacheConfigError(`customer id must be an integer, got ${id}`);
    this.requireOrganization();
    const url = new URL(`customers/${id}`, this.baseUrl);
    const include = options.include ?? [];
    if (include.length > 0) {
      if (include.some((name) => name.length === 0 || name.includes(','))) {
        throw new NutcacheConfigError('include names must be non-empty and contain no comma');
      }
      url.search = `include=${include.map(encodeURIComponent).join(',')}`;
    }
    const reply = await this.request({ method: 'GET', url, signal: options.signal, passStatuses: [404] });
    if (reply.status === 404) return null;
    const records = this.envelopeItems(reply, 'customers');
    if (records.length !== 1) {
      throw this.responseError(reply, `expected exactly one customer in "customers", got ${records.length}`);
    }
    const parsed = normalizeCustomer(records[0]);
    const gotId = parsed.ok ? parsed.customer.id : parsed.id;
    if (gotId !== undefined && gotId !== id) {
      throw this.responseError(reply, `asked for customer ${id}, got customer ${gotId}`);
    }
    return parsed;
  }

  /** `GET organizations`: the organizations the user can see (items without a guid are skipped). */
  async listOrganizations(options: { signal?: AbortSignal } = {}): Promise<NutcacheOrganization[]> {
    const out: NutcacheOrganization[] = [];
    for await (const page of this.pages(
      new URL('organizations', this.baseUrl),
      'organizations',
      options.signal,
    )) {
      for (const item of page.items) {
        const fields = lowerKeys(item);
        const guid = fields?.guid;
        if (typeof guid !== 'string' || guid.length === 0) continue;
        const name = fields?.name;
        const id = fields?.id;
        out.push({
          guid,
          ...(typeof name === 'string' ? { name } : {}),
          ...(typeof id === 'number' ? { id } : {}),
        });
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------------
  // Paging

  private async *pages(
    first: URL,
    key: string,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<{ pageNumber: number; items: unknown[]; last: boolean }> {
    const seen = new Set<string>([first.href]);
    let url = first;
    for (let pageNumber = 1; ; pageNumber++) {
      const reply = await this.request({ method: 'GET', url, signal });
      const items = this.envelopeItems(reply, key);
      const envelope = lowerKeys(reply.body) ?? {};
      const href = nextHref(envelope);
      yield { pageNumber, items, last: href === undefined };
      if (href === undefined) return;
      const next = this.resolveNext(href, pageNumber);
      if (seen.has(next.href)) {
        throw new NutcachePagingError(
          `Nutcache paging loop: page ${pageNumber} of ${this.shownPath(first)} links back to a page already read (${this.shownPath(next)})`,
          pageNumber,
        );
      }
      if (pageNumber >= this.maxPages) {
        throw new NutcachePagingError(
          `Nutcache listing of ${this.shownPath(first)} still has a next page after ${pageNumber} pages (maxPages ${this.maxPages}); stopping`,
          pageNumber,
        );
      }
      seen.add(next.href);
      url = next;
    }
  }

  private resolveNext(href: string, pageNumber: number): URL {
    let next: URL;
    try {
      next = new URL(href, this.baseUrl);
    } catch {
      throw new NutcachePagingError(
        `Nutcache navigation-next on page ${pageNumber} is not a URL`,
        pageNumber,
      );
    }
    if (next.origin !== this.baseUrl.origin) {
      throw new NutcachePagingError(
        `Nutcache navigation-next on page ${pageNumber} points to another host (${next.protocol}//${this.redactor().text(next.host)}); refusing to send credentials there`,
        pageNumber,
      );
    }
    if (next.username || next.password) {
      throw new NutcachePagingError(
        `Nutcache navigation-next on page ${pageNumber} carries user info; refusing it`,
        pageNumber,
      );
    }
    next.hash = '';
    return next;
  }

  private envelopeItems(reply: Reply, key: string): unknown[] {
    const envelope =
      Array.isArray(reply.body) && key === 'organizations' ? { [key]: reply.body } : reply.body;
    const items = lowerKeys(envelope)?.[key];
    if (!Array.isArray(items)) {
      throw this.responseError(reply, `expected a JSON object with a "${key}" array`);
    }
    return items;
  }

  // -------------------------------------------------------------------------------------------------
  // Requests

  private requireOrganization(): void {
    if (!this.organizationGuid) {
      throw new NutcacheConfigError('organizationGuid is required to read customers');
    }
  }

  /** The path of a URL as shown in errors and logs. */
  private shownPath(url: URL): string {
    return this.redactor().path(url);
  }

  /** The redactor of every credential and every bearer token issued so far (rebuilt when one is issued). */
  private redactor(): Redactor {
    if (this.redactorFor !== this.issuedTokens.size) {
      this.redactorCache = new Redactor([...credentialSecrets(this.credentials), ...this.issuedTokens]);
      this.redactorFor = this.issuedTokens.size;
    }
    return this.redactorCache;
  }

  /**
   * The body excerpt for an error message. The token endpoint's bodies are never quoted: one that could
   * not be parsed may hold a token the client does not know yet, so it cannot be redacted.
   */
  private excerpt(spec: RequestSpec, text: string): string {
    return spec.isTokenRequest ? '(token endpoint body not shown)' : this.redactor().excerpt(text);
  }

  private responseError(reply: Reply, problem: string): NutcacheResponseError {
    return new NutcacheResponseError({
      method: 'GET',
      path: this.shownPath(reply.url),
      status: reply.status,
      problem,
      excerpt: this.redactor().excerpt(reply.text),
      attempts: reply.attempts,
    });
  }

  /** A body over `maxResponseBytes`: never retried (the next attempt would be as large). */
  private tooLargeError(
    spec: RequestSpec,
    body: { status: number; tooLarge: string; head: string },
    attempts: number,
  ): NutcacheResponseTooLargeError {
    return new NutcacheResponseTooLargeError({
      method: spec.method,
      path: this.shownPath(spec.url),
      status: body.status,
      limitBytes: this.maxResponseBytes,
      problem: `body is larger than ${this.maxResponseBytes} bytes (maxResponseBytes; ${body.tooLarge}); request aborted`,
      excerpt: this.excerpt(spec, body.head),
      attempts,
    });
  }

  private async fetchToken(): Promise<TokenResponse> {
    const url = new URL('token', this.baseUrl);
    const reply = await this.request({
      method: 'POST',
      url,
      form: tokenRequestBody(this.credentials),
      isTokenRequest: true,
    });
    const parsed = tokenResponseSchema.safeParse(reply.body);
    if (!parsed.success) {
      throw new NutcacheResponseError({
        method: 'POST',
        path: this.shownPath(url),
        status: reply.status,
        problem: `token answer lacks ${parsed.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}`,
        // The body of a token answer holds the token: never quote it.
        excerpt: '(token response not shown)',
        attempts: reply.attempts,
      });
    }
    this.issuedTokens.add(parsed.data.access_token);
    return parsed.data;
  }

  private async headers(spec: RequestSpec): Promise<{ headers: Record<string, string>; token?: string }> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'api-version': API_VERSION,
      'User-Agent': USER_AGENT,
    };
    if (this.organizationGuid) headers.OrganizationGuid = this.organizationGuid;
    if (spec.isTokenRequest) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      return { headers };
    }
    if (this.authScheme === 'nut-basic') {
      headers.Authorization = `nut-basic ${this.basicToken}`;
      return { headers };
    }
    const token = await this.tokens.get();
    headers.Authorization = `bearer ${token}`;
    return { headers, token };
  }

  private checkDeadline(what: string): void {
    const deadline = this.deadlineMs;
    if (deadline !== undefined && this.clock.now() >= deadline) {
      throw new NutcacheDeadlineError(`Nutcache ${what}: the deadline has passed`, deadline);
    }
  }

  /**
   * Sends one logical request: rate-limited, timed out, retried. Returns the parsed JSON body of a 2xx
   * (or the status of a `passStatuses` answer); raises a typed error otherwise.
   */
  private async request(spec: RequestSpec): Promise<Reply> {
    const state: AttemptState = { attempt: 0, retries: 0, tokenRefetched: false };
    for (;;) {
      state.attempt++;
      const { headers, token } = await this.admit(spec);
      const outcome = await this.attempt(spec, headers, state.attempt);
      const verdict = this.judge(spec, outcome, token, state);
      if ('reply' in verdict) return verdict.reply;
      if ('refetch' in verdict) continue;
      await this.waitBeforeRetry(spec, verdict.failure, verdict.waitMs, state);
    }
  }

  /** Waits for the deadline check, the Authorization header and a rate-limit slot, in that order. */
  private async admit(spec: RequestSpec): Promise<{ headers: Record<string, string>; token?: string }> {
    const what = `${spec.method} ${this.shownPath(spec.url)} cannot start`;
    this.checkDeadline(what);
    const headers = await this.headers(spec);
    await this.limiter.acquire({ signal: spec.signal, deadline: this.deadlineMs });
    this.checkDeadline(what);
    return headers;
  }

  /** What to do with one attempt's outcome: return it, retry it (after a wait), refetch a token, or raise. */
  private judge(
    spec: RequestSpec,
    outcome: AttemptOutcome,
    token: string | undefined,
    state: AttemptState,
  ): Verdict {
    if ('failure' in outcome) return { failure: outcome.failure };
    if ('tooLarge' in outcome) throw this.tooLargeError(spec, outcome.tooLarge, state.attempt);
    const { status, text } = outcome.reply;
    const { url } = spec;
    if (status >= 200 && status < 300) {
      const parsed = this.parseJson(text);
      if (parsed.ok) return { reply: { status, body: parsed.value, text, url, attempts: state.attempt } };
      return {
        failure: { kind: 'body', status, problem: parsed.problem, excerpt: this.excerpt(spec, text) },
      };
    }
    if (spec.passStatuses?.includes(status)) {
      return { reply: { status, body: undefined, text, url, attempts: state.attempt } };
    }
    const details = {
      method: spec.method,
      path: this.shownPath(url),
      status,
      excerpt: this.excerpt(spec, text),
      attempts: state.attempt,
    };
    if (status === 401 || (spec.isTokenRequest && status === 400))
      return this.onUnauthorized(spec, token, state, details);
    if (status !== 429 && status < 500) throw new NutcacheHttpError(details);
    const waitMs = status === 429 ? this.onThrottled(outcome.reply.retryAfter, details) : undefined;
    return { failure: { kind: 'status', status, excerpt: details.excerpt }, waitMs };
  }

  /** A 401 in bearer mode: drop the token and repeat once (not counted as an attempt); otherwise raise. */
  private onUnauthorized(
    spec: RequestSpec,
    token: string | undefined,
    state: AttemptState,
    details: HttpErrorDetails,
  ): Verdict {
    if (spec.isTokenRequest || token === undefined || state.tokenRefetched)
      throw new NutcacheAuthError(details);
    state.tokenRefetched = true;
    state.attempt--;
    this.tokens.invalidate(token);
    this.log.info('Nutcache rejected the bearer token; fetching a new one', {
      method: spec.method,
      path: details.path,
    });
    return { refetch: true };
  }

  /**
   * A 429: pauses every request of this API key for `Retry-After`, at most `maxRetryAfterMs` (a hostile
   * or broken Retry-After of a day must not stall a warm process), and returns the wait for this request.
   * A Retry-After longer than that maximum gives the request up at once (NutcacheThrottledError).
   */
  private onThrottled(header: string | null, details: HttpErrorDetails): number | undefined {
    this.throttled++;
    const now = this.clock.now();
    const retryAfterMs = parseRetryAfter(header, now);
    if (retryAfterMs === undefined) return undefined;
    const pausedMs = Math.min(retryAfterMs, this.retry.maxRetryAfterMs);
    // Every request of this API key waits, even when this one gives up: the next request would
    // otherwise go straight into the throttled key.
    this.limiter.pauseUntil(now + pausedMs);
    if (retryAfterMs > pausedMs) {
      this.log.warn('Nutcache Retry-After is longer than the client waits; request given up', {
        method: details.method,
        path: details.path,
        retryAfterMs,
        pausedMs,
      });
      throw new NutcacheThrottledError({ ...details, retryAfterMs, pausedMs });
    }
    return retryAfterMs;
  }

  /** Raises the last failure when attempts are used up or the wait would pass the deadline; else waits. */
  private async waitBeforeRetry(
    spec: RequestSpec,
    failure: Failure,
    waitMs: number | undefined,
    state: AttemptState,
  ): Promise<void> {
    const { method, signal } = spec;
    const path = this.shownPath(spec.url);
    if (state.attempt >= this.retry.maxAttempts) throw this.finalError(method, path, failure, state.attempt);
    state.retries++;
    const wait = waitMs ?? backoffDelay(state.retries, this.retry, this.random);
    const deadline = this.deadlineMs;
    if (deadline !== undefined && this.clock.now() + wait >= deadline) {
      throw new NutcacheDeadlineError(
        `Nutcache ${method} ${path} failed (${this.describeFailure(failure)}) and retrying in ${wait} ms would pass the deadline`,
        deadline,
      );
    }
    if (failure.kind === 'status' && failure.status === 429) this.limiter.pauseUntil(this.clock.now() + wait);
    this.log.warn('Nutcache request will be retried', {
      method,
      path,
      attempt: state.attempt,
      failure: this.describeFailure(failure),
      waitMs: wait,
    });
    await this.clock.sleep(wait, signal);
  }

  private describeFailure(failure: Failure): string {
    switch (failure.kind) {
      case 'status':
        return `status ${failure.status}`;
      case 'body':
        return `status ${failure.status}, ${failure.problem}`;
      case 'network':
        return failure.timedOut ? 'timeout' : `network error: ${failure.detail}`;
    }
  }

  private finalError(method: string, path: string, failure: Failure, attempts: number): Error {
    switch (failure.kind) {
      case 'status':
        return new NutcacheHttpError({
          method,
          path,
          status: failure.status,
          excerpt: failure.excerpt,
          attempts,
        });
      case 'body':
        return new NutcacheResponseError({ method, path, ...failure, attempts });
      case 'network':
        return new NutcacheNetworkError({ method, path, ...failure, attempts });
    }
  }

  private parseJson(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
    if (text.trim() === '') return { ok: false, problem: 'body is empty, expected JSON' };
    if (isHtml(text)) return { ok: false, problem: 'body is HTML, expected JSON' };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false, problem: 'body is not valid JSON (truncated?)' };
    }
  }

  /** The timeout of one attempt: the request timeout, capped by the time left before the deadline. */
  private attemptTimeoutMs(): number {
    const deadline = this.deadlineMs;
    if (deadline === undefined) return this.requestTimeoutMs;
    return Math.max(1, Math.min(this.requestTimeoutMs, deadline - this.clock.now()));
  }

  /** One HTTP exchange, body read included (at most `maxResponseBytes`), under the attempt's timeout. */
  private async attempt(
    spec: RequestSpec,
    headers: Record<string, string>,
    attempt: number,
  ): Promise<AttemptOutcome> {
    const { method, url, signal } = spec;
    const timeoutMs = this.attemptTimeoutMs();
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(new Error('request timeout')), timeoutMs);
    const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    const started = performance.now();
    const logged = (status: number | string) =>
      this.log.debug('Nutcache request', {
        ...this.logFields(spec),
        status,
        attempt,
        durationMs: Math.round(performance.now() - started),
      });
    this.requests++;
    try {
      const response = await this.fetchImpl(url.href, {
        method,
        headers,
        ...(spec.form !== undefined ? { body: spec.form } : {}),
        signal: combined,
        redirect: 'manual',
      });
      const body = await readCappedBody(response, this.maxResponseBytes);
      logged(response.status);
      if ('tooLarge' in body) {
        stop.abort(new Error('response too large'));
        return { tooLarge: { status: response.status, ...body } };
      }
      return {
        reply: { status: response.status, text: body.text, retryAfter: response.headers.get('retry-after') },
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const timedOut = stop.signal.aborted;
      logged(timedOut ? 'timeout' : 'network-error');
      const detail = timedOut
        ? `no answer within ${timeoutMs} ms`
        : this.redactor().text(networkDetail(error));
      return { failure: { kind: 'network', timedOut, detail } };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Method, path and (listing) page number of a request, for log lines. */
  private logFields(spec: RequestSpec): Record<string, string | number> {
    const page = spec.url.searchParams.get('page');
    return {
      method: spec.method,
      path: this.shownPath(spec.url),
      ...(page && /^\d{1,9}$/.test(page) ? { page: Number(page) } : {}),
    };
  }
}
