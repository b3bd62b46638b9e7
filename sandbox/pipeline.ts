/**
 * The request pipeline, as named phases: describe the request → check its route → authenticate →
 * rate-limit → fire faults → route → respond → finish (statistics, log, `after` mutations).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_PAGE_LIMIT, type RequestLogEntry } from './api.ts';
import type { RequestFacts } from './faults.ts';
import { type Answer, HttpProblem, internalError, problemAnswer, write } from './http.ts';
import { handleAdmin, isAdminRequest } from './routes/admin.ts';
import { authenticate, enforceRateLimit, requireApiVersion } from './routes/auth.ts';
import {
  listing,
  parseCustomerId,
  parseListingQuery,
  requireOrganization,
  single,
} from './routes/customers.ts';
import {
  faultAnswer,
  type ListedPage,
  resetConnection,
  streamOversized,
  type Truncation,
  takeFaults,
} from './routes/faults.ts';
import { organizationsAnswer } from './routes/organizations.ts';
import { issueToken, tokenRequest } from './routes/token.ts';
import { appendLog, type Organization, recordError, type SandboxState, sleep } from './state.ts';

/** One request as the pipeline sees it. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly arrived: number;
  readonly started: number;
  readonly method: string;
  readonly url: URL;
  /** Whether the path starts with /webapi/. */
  readonly underApi: boolean;
  /** Path relative to /webapi/, lower case, without trailing slashes (the full path when not under it). */
  readonly rel: string;
  /** `customers`, `customers/{id}`, `token`, `organizations`, or the raw path. */
  readonly route: string;
  /** The `{id}` segment of `customers/{id}`. */
  readonly idSegment: string | undefined;
  /** Mutations to run once the answer is written. */
  readonly after: (() => void)[];
  /** HTTP status answered (0: connection reset). */
  status: number;
}

/** What a customers request addresses. */
interface Target {
  readonly org: Organization | undefined;
  readonly page: number | undefined;
  readonly limit: number;
  readonly customerId: number | undefined;
}

/** Either an answer still to write, or a request already dealt with (streamed or reset). */
type Outcome =
  | { readonly answer: Answer; readonly truncate: Truncation | undefined }
  | { readonly answer: undefined };

const KNOWN_ROUTES = new Set(['customers', 'customers/{id}', 'token', 'organizations']);

function describe(state: SandboxState, req: IncomingMessage, res: ServerResponse): Exchange {
  const arrived = state.clock.now();
  const started = performance.now();
  state.counters.requests++;
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
  state.counters.byPath[route] = (state.counters.byPath[route] ?? 0) + 1;
  const idSegment = idMatch?.[1];
  return {
    req,
    res,
    arrived,
    started,
    method,
    url,
    underApi: !!prefix,
    rel,
    route,
    idSegment,
    after: [],
    status: 0,
  };
}

/** 404 for an unknown resource, 405 for a method it does not support. */
function checkRoute(x: Exchange): void {
  if (!x.underApi) throw new HttpProblem(404, `No resource at ${x.url.pathname}.`);
  if (!KNOWN_ROUTES.has(x.route))
    throw new HttpProblem(404, `No HTTP resource was found that matches the request URI '${x.rel}'.`);
  const allowed = x.route === 'token' ? 'POST' : 'GET';
  if (x.method !== allowed)
    throw new HttpProblem(405, `The requested resource does not support ${x.method}.`, { allow: allowed });
}

/** The API key: from the token form for `token`, from the Authorization header (after api-version) otherwise. */
async function authenticateRequest(state: SandboxState, x: Exchange): Promise<string> {
  if (x.route === 'token') return tokenRequest(state, x.req);
  requireApiVersion(x.req);
  return authenticate(state, x.req.headers.authorization);
}

function resolveTarget(state: SandboxState, x: Exchange): Target {
  const isCustomers = x.route === 'customers' || x.route === 'customers/{id}';
  const org = isCustomers ? requireOrganization(state, x.req) : undefined;
  const query = x.route === 'customers' ? parseListingQuery(x.url.searchParams) : undefined;
  const customerId = x.route === 'customers/{id}' ? parseCustomerId(x.idSegment ?? '') : undefined;
  return { org, page: query?.page, limit: query?.limit ?? DEFAULT_PAGE_LIMIT, customerId };
}

/** The route's own answer. */
function route(state: SandboxState, x: Exchange, apiKey: string, t: Target): Answer {
  if (x.route === 'token') return issueToken(state, apiKey);
  if (x.route === 'organizations') return organizationsAnswer(state);
  if (x.route === 'customers' && t.org) return listing(state, t.org, t.page ?? 1, t.limit);
  if (t.org && t.customerId !== undefined) return single(state, t.org, t.customerId);
  throw new Error(`unrouted request ${x.method} ${x.rel}`);
}

/** Authenticate → rate-limit → faults → route; a streamed or reset fault answers by itself. */
async function process(state: SandboxState, x: Exchange): Promise<Outcome> {
  checkRoute(x);
  const apiKey = await authenticateRequest(state, x);
  enforceRateLimit(state, apiKey);
  const target = resolveTarget(state, x);
  const facts: RequestFacts = {
    method: x.method,
    path: x.rel,
    route: x.route,
    page: target.page,
    customerId: target.customerId,
  };
  const { terminal, truncate } = await takeFaults(state, facts, x.after);
  if (terminal?.kind === 'oversized') {
    await sleep(state, state.settings.latencyMs);
    x.status = 200;
    await streamOversized(state, x.res, terminal);
    return { answer: undefined };
  }
  if (terminal?.kind === 'reset') {
    await sleep(state, state.settings.latencyMs);
    x.status = 0;
    resetConnection(x.req);
    return { answer: undefined };
  }
  const listed: ListedPage | undefined =
    x.route === 'customers' && target.org
      ? { org: target.org, page: target.page ?? 1, limit: target.limit }
      : undefined;
  const answer =
    faultAnswer(state, terminal, x.req.headers.authorization, listed) ?? route(state, x, apiKey, target);
  return { answer, truncate };
}

/** A client error as its problem answer; anything else is kept in `errors` and answered 500. */
function errorAnswer(state: SandboxState, error: unknown): Answer {
  if (error instanceof HttpProblem) return problemAnswer(error);
  recordError(state, error);
  return internalError();
}

/** Writes the answer after the configured latency, cut short by a `truncated` fault on a success. */
async function respond(
  state: SandboxState,
  x: Exchange,
  answer: Answer,
  truncate: Truncation | undefined,
): Promise<void> {
  await sleep(state, state.settings.latencyMs);
  x.status = answer.status;
  if (!truncate || answer.status >= 400) {
    write(x.res, answer);
    return;
  }
  const bytes = Buffer.from(answer.body, 'utf8');
  const kept = bytes.subarray(0, Math.floor(bytes.length * truncate.fraction));
  if (truncate.framing !== 'abort') {
    write(x.res, { ...answer, body: kept.toString('utf8') });
  } else if (!x.res.destroyed) {
    x.res.writeHead(answer.status, { ...answer.headers, 'content-length': String(bytes.length) });
    x.res.write(kept, () => x.res.destroy());
  }
}

/** Statistics, the request log, `onRequest`, then the `after` mutations (their errors kept in `errors`). */
function finish(state: SandboxState, x: Exchange): void {
  const { counters } = state;
  counters.byStatus[String(x.status)] = (counters.byStatus[String(x.status)] ?? 0) + 1;
  if (x.status === 429) counters.throttled++;
  const entry: RequestLogEntry = {
    at: x.arrived,
    method: x.method,
    path: `${x.rel}${x.url.search}`,
    route: x.route,
    status: x.status,
    durationMs: Math.round((performance.now() - x.started) * 10) / 10,
  };
  appendLog(state, entry);
  state.options.onRequest?.(entry);
  for (const run of x.after) {
    try {
      run();
    } catch (error) {
      recordError(state, error);
    }
  }
}

/** Handles one request from arrival to the last `after` mutation. */
export async function handleRequest(
  state: SandboxState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (isAdminRequest(state, req)) return handleAdmin(state, req, res);
  const x = describe(state, req, res);
  let outcome: Outcome;
  try {
    outcome = await process(state, x);
  } catch (error) {
    outcome = { answer: errorAnswer(state, error), truncate: undefined };
  }
  if (outcome.answer) await respond(state, x, outcome.answer, outcome.truncate);
  finish(state, x);
}
