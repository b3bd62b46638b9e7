/**
 * Fault injection for the sandbox: what can go wrong with a request, which requests it hits, and how often.
 * Faults are registered with `sandbox.inject(spec)` and consulted, in registration order, for every request
 * that passed authentication and the rate limits.
 */
import type { JsonValue } from '../shared/customer.ts';

/** Which requests a fault applies to. Every given condition must hold. */
export interface FaultMatch {
  /** HTTP method, case-insensitive (default: any). */
  readonly method?: string;
  /**
   * The path relative to `/webapi/`, compared case-insensitively: `'customers'` (the listing),
   * `'customers/{id}'` (any single customer), `'customers/143222'`, `'token'`, `'organizations'`; or a
   * RegExp tested against the relative path (no query string).
   */
  readonly path?: string | RegExp;
  /** Listing page number (a listing without `page` is page 1). Implies the listing path. */
  readonly page?: number;
  /** Single customer id. Implies `customers/{id}`. */
  readonly customerId?: number;
}

/** How often a fault fires among the requests it matches. */
export interface FaultTrigger {
  /** How many times it fires (default 1; `Infinity` for always). */
  readonly times?: number;
  /** Let this many matching requests through before it starts firing (default 0). */
  readonly skip?: number;
  /** Fire with this probability, drawn from the sandbox's seeded generator (default 1). */
  readonly probability?: number;
}

/** An HTTP error answer instead of the real one. */
export interface StatusFault {
  readonly kind: 'status';
  /** e.g. 429, 500, 502, 503, 400, 401, 403. */
  readonly status: number;
  /** `Retry-After`: seconds (number), an HTTP date (Date), or a raw header value (string). */
  readonly retryAfter?: number | Date | string;
  /** Body (default: a small ASP.NET-style JSON message). */
  readonly body?: string;
  readonly contentType?: string;
}

/** An HTML error page (IIS/ASP.NET style), with status 200 or an error status. */
export interface HtmlFault {
  readonly kind: 'html';
  readonly status?: number;
}

/** The normal JSON answer, cut short. */
export interface TruncatedFault {
  readonly kind: 'truncated';
  /** Fraction of the body kept, 0..1 (default 0.5). */
  readonly fraction?: number;
  /**
   * `complete` (default): a well-framed response whose body is short (what a broken proxy sends).
   * `abort`: the headers announce the full length, part of the body is sent, then the socket is destroyed.
   */
  readonly framing?: 'complete' | 'abort';
}

/** The connection is reset before any answer. */
export interface ResetFault {
  readonly kind: 'reset';
}

/** The real answer, but late. */
export interface DelayFault {
  readonly kind: 'delay';
  readonly ms: number;
}

/** A change to the data made just before or just after the matching request is answered. */
export interface MutateFault {
  readonly kind: 'mutate';
  /** `after` (default): once the answer has been written; `before`: before the answer is computed. */
  readonly when?: 'before' | 'after';
  readonly run: () => void;
}

/**
 * A hostile answer: a 200 whose JSON body opens and then never ends (padding streamed with backpressure
 * until the client goes away), or ends after `bytes` bytes. `declareLength` announces the full size in
 * `Content-Length` (a 400 MB page) instead of streaming it chunked.
 */
export interface OversizedFault {
  readonly kind: 'oversized';
  /** Total bytes to send (default: endless). */
  readonly bytes?: number;
  readonly declareLength?: boolean;
}

/** How a reflecting server spells what it reflects. */
export type ReflectEncoding = 'raw' | 'percent' | 'html' | 'base64';

/**
 * A hostile answer that reflects the request's `Authorization` header, and the credentials a nut-basic
 * header carries (`apiKey:username:password`), back at the client: in the `navigation-next` link of a
 * listing page (path and query), or in the body of an error answer (`status`, default 400). The reflected
 * request then appears in the sandbox's own request log: it is the hostile server's log, not the client's.
 */
export interface ReflectFault {
  readonly kind: 'reflect';
  readonly into: 'next-link' | 'body';
  readonly encoding?: ReflectEncoding;
  readonly status?: number;
}

export type FaultAction =
  | StatusFault
  | HtmlFault
  | TruncatedFault
  | ResetFault
  | DelayFault
  | MutateFault
  | OversizedFault
  | ReflectFault;

/** Faults that answer in place of the real answer (at most one fires per request). */
const ANSWERING_KINDS: ReadonlySet<FaultAction['kind']> = new Set([
  'status',
  'html',
  'reset',
  'oversized',
  'reflect',
]);

/** A fault: an action, the requests it matches, and how often it fires. */
export type FaultSpec = FaultAction & FaultMatch & FaultTrigger;

/** What `inject` returns: counters and a way to withdraw the fault. */
export interface FaultHandle {
  readonly spec: FaultSpec;
  /** How many times it has fired. */
  readonly hits: number;
  /** How many more times it may fire. */
  readonly remaining: number;
  /** Withdraws the fault. */
  cancel(): void;
}

/** What the server knows of a request when it consults the faults. */
export interface RequestFacts {
  readonly method: string;
  /** Path relative to /webapi/, lower-cased, no query. */
  readonly path: string;
  /** `customers`, `customers/{id}`, `token`, `organizations`, or the path itself. */
  readonly route: string;
  readonly page?: number;
  readonly customerId?: number;
}

export class FaultRegistry {
  readonly #random: () => number;
  #entries: FaultEntry[] = [];

  constructor(random: () => number) {
    this.#random = random;
  }

  add(spec: FaultSpec): FaultHandle {
    validate(spec);
    const entry = new FaultEntry(spec, () => {
      this.#entries = this.#entries.filter((e) => e !== entry);
    });
    this.#entries.push(entry);
    return entry;
  }

  clear(): void {
    this.#entries = [];
  }

  get active(): readonly FaultHandle[] {
    return [...this.#entries];
  }

  /**
   * The actions that fire for this request, in registration order; exhausted faults are removed.
   * At most one answer-replacing fault (status, html, reset, oversized, reflect) and one truncation fire per request: once one
   * has fired, later faults of that sort are not consulted (they keep their count for the next request).
   * Delays and mutations all fire.
   */
  take(facts: RequestFacts): FaultAction[] {
    const fired: FaultAction[] = [];
    let answered = false;
    let truncated = false;
    for (const entry of [...this.#entries]) {
      const kind = entry.spec.kind;
      const replaces = ANSWERING_KINDS.has(kind);
      if ((replaces && answered) || (kind === 'truncated' && truncated)) continue;
      if (!matches(entry.spec, facts)) continue;
      if (entry.fire(this.#random)) {
        fired.push(entry.spec);
        if (replaces) answered = true;
        if (kind === 'truncated') truncated = true;
      }
      if (entry.remaining <= 0) entry.cancel();
    }
    return fired;
  }
}

class FaultEntry implements FaultHandle {
  readonly spec: FaultSpec;
  hits = 0;
  #seen = 0;
  readonly #onCancel: () => void;

  constructor(spec: FaultSpec, onCancel: () => void) {
    this.spec = spec;
    this.#onCancel = onCancel;
  }

  get remaining(): number {
    return (this.spec.times ?? 1) - this.hits;
  }

  fire(random: () => number): boolean {
    this.#seen++;
    if (this.#seen <= (this.spec.skip ?? 0)) return false;
    const p = this.spec.probability ?? 1;
    if (p < 1 && random() >= p) return false;
    this.hits++;
    return true;
  }

  cancel(): void {
    this.#onCancel();
  }
}

function validate(spec: FaultSpec): void {
  const times = spec.times ?? 1;
  if (!(times >= 1)) throw new Error(`fault 'times' must be at least 1, got ${times}`);
  const p = spec.probability ?? 1;
  if (!(p > 0 && p <= 1)) throw new Error(`fault 'probability' must be in (0, 1], got ${p}`);
  if (spec.kind === 'delay' && !(spec.ms >= 0)) throw new Error('delay fault needs ms >= 0');
  if (spec.kind === 'oversized' && spec.bytes !== undefined && !(spec.bytes >= 0)) {
    throw new Error('oversized fault needs bytes >= 0');
  }
  if (spec.kind === 'truncated') {
    const f = spec.fraction ?? 0.5;
    if (!(f >= 0 && f < 1)) throw new Error('truncated fault needs 0 <= fraction < 1');
  }
  if (
    spec.kind === 'status' &&
    !(Number.isInteger(spec.status) && spec.status >= 100 && spec.status <= 599)
  ) {
    throw new Error(`status fault needs an HTTP status, got ${spec.status}`);
  }
}

function matches(spec: FaultSpec, facts: RequestFacts): boolean {
  if (spec.method && spec.method.toUpperCase() !== facts.method) return false;
  if (spec.page !== undefined && (facts.route !== 'customers' || facts.page !== spec.page)) return false;
  if (spec.customerId !== undefined && facts.customerId !== spec.customerId) return false;
  const p = spec.path;
  if (p instanceof RegExp) return p.test(facts.path);
  if (typeof p === 'string') {
    const want = p.toLowerCase().replace(/^\/+|\/+$/g, '');
    return want === facts.path || want === facts.route;
  }
  return true;
}

/** What a reflecting server echoes: the Authorization value and, for nut-basic, the credentials in it. */
export function reflectedText(authorization: string | undefined): string {
  if (!authorization) return '';
  const basic = /^\s*nut-basic\s+(\S+)\s*$/i.exec(authorization);
  const decoded = basic?.[1] ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
  return decoded ? `${authorization} ${decoded}` : authorization;
}

/** `text` spelled as a reflecting server might: as is, percent-encoded, HTML-escaped or base64. */
export function encodeReflection(text: string, encoding: ReflectEncoding): string {
  switch (encoding) {
    case 'raw':
      return text;
    case 'percent':
      return encodeURIComponent(text);
    case 'html':
      return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    case 'base64':
      return Buffer.from(text, 'utf8').toString('base64');
  }
}

/** `Retry-After` header value for a status fault. */
export function retryAfterHeader(value: number | Date | string): string {
  if (typeof value === 'number') return String(Math.max(0, Math.ceil(value)));
  if (value instanceof Date) return value.toUTCString();
  return value;
}

/** An IIS/ASP.NET-style HTML error page. */
export function htmlErrorPage(status: number): string {
  const title = status >= 500 || status === 200 ? 'Runtime Error' : `HTTP Error ${status}`;
  return [
    '<!DOCTYPE html>',
    '<html>',
    `<head><title>${title}</title></head>`,
    '<body bgcolor="white">',
    "<span><h1>Server Error in '/' Application.<hr width=100% size=1 color=silver></h1>",
    `<h2><i>${title}</i></h2></span>`,
    '<b>Description:</b> An application error occurred on the server. The current custom error settings',
    'for this application prevent the details of the application error from being viewed remotely.',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Key casing

/**
 * How record keys are spelled in answers (a persistent mode, set with `sandbox.setKeyCasing`):
 * - `documented`: as on the seed page (`Organization`, `Notes`, lower-case `status`).
 * - `lower`: every key lower case (`organization`, `notes`, `status`).
 * - `upper`: every key upper case (`ID`, `NAME`, `ZIP_CODE`, …).
 * - `attribute-table`: as in the documented attribute table (`Organization`, `Status`, `Notes`).
 * - `pascal`: first letter of every key upper case (`Id`, `Name`, `Zip_code`, …).
 * - `mixed`: records with an even id `documented`, odd ids `lower` (casing varies inside one page).
 * - a map from documented key to the key to send (e.g. `{ Notes: 'notes' }`), others unchanged.
 * Only the record's own keys change; the envelope (`customers`, `links`) and link objects stay as documented.
 */
export type KeyCasing =
  | 'documented'
  | 'lower'
  | 'upper'
  | 'attribute-table'
  | 'pascal'
  | 'mixed'
  | Readonly<Record<string, string>>;

/** A record with its keys respelled (key order kept). */
export function applyKeyCasing(
  record: Readonly<Record<string, JsonValue>>,
  casing: KeyCasing,
): Record<string, JsonValue> {
  const rename = renamer(record, casing);
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(record)) out[rename(key)] = value;
  return out;
}

function renamer(record: Readonly<Record<string, JsonValue>>, casing: KeyCasing): (key: string) => string {
  switch (casing) {
    case 'documented':
      return (k) => k;
    case 'lower':
      return (k) => k.toLowerCase();
    case 'upper':
      return (k) => k.toUpperCase();
    case 'pascal':
      return (k) => k.charAt(0).toUpperCase() + k.slice(1);
    case 'attribute-table':
      return (k) => (k === 'status' ? 'Status' : k);
    case 'mixed': {
      const id = record.id;
      const odd = typeof id === 'number' && id % 2 !== 0;
      return odd ? (k) => k.toLowerCase() : (k) => k;
    }
    default: {
      const map = casing;
      return (k) => map[k] ?? k;
    }
  }
}
