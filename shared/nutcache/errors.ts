/**
 * Typed errors of the Nutcache client. Every message names the HTTP method and the URL path (never the
 * host's credentials nor the query string) and, when there is one, a short excerpt of the body with any
 * known credential cut out. No message ever holds an API key, user name, password or token.
 */

/** Longest body excerpt put in an error message. */
export const EXCERPT_LENGTH = 120;

/** Base class: lets callers catch every Nutcache failure at once. */
export class NutcacheError extends Error {
  override readonly name: string = 'NutcacheError';
}

/** The client was configured or called with invalid arguments (never retried). */
export class NutcacheConfigError extends NutcacheError {
  override readonly name: string = 'NutcacheConfigError';
}

export interface HttpErrorDetails {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly excerpt?: string;
  readonly attempts?: number;
}

/** Nutcache answered with an HTTP error status (4xx, or 5xx/429 after the last retry). */
export class NutcacheHttpError extends NutcacheError {
  override readonly name: string = 'NutcacheHttpError';
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly excerpt: string;
  readonly attempts: number;

  constructor(details: HttpErrorDetails, prefix?: string) {
    const attempts = details.attempts ?? 1;
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const body = details.excerpt ? `: ${JSON.stringify(details.excerpt)}` : '';
    super(
      `${prefix ?? 'Nutcache'} ${details.method} ${details.path} answered ${details.status}${tries}${body}`,
    );
    this.status = details.status;
    this.method = details.method;
    this.path = details.path;
    this.excerpt = details.excerpt ?? '';
    this.attempts = attempts;
  }
}

/** 401 (or a rejected token request): the credentials are wrong, expired or lack a permission. */
export class NutcacheAuthError extends NutcacheHttpError {
  override readonly name: string = 'NutcacheAuthError';

  constructor(details: HttpErrorDetails) {
    super(details, 'Nutcache authentication failed:');
  }
}

/**
 * A 429 whose `Retry-After` is longer than the client's maximum wait (`retry.maxRetryAfterMs`): the request
 * is given up at once, and the API key's limiter is paused for the maximum wait only (`pausedMs`), so a
 * hostile or broken `Retry-After` (a day, a date a year ahead) cannot stall a warm process for that long.
 */
export class NutcacheThrottledError extends NutcacheHttpError {
  override readonly name: string = 'NutcacheThrottledError';
  readonly retryAfterMs: number;
  readonly pausedMs: number;

  constructor(details: HttpErrorDetails & { retryAfterMs: number; pausedMs: number }) {
    super(
      details,
      `Nutcache throttled (Retry-After of ${Math.ceil(details.retryAfterMs / 1000)} s is longer than the ${Math.ceil(details.pausedMs / 1000)} s the client waits; request given up, API key paused ${Math.ceil(details.pausedMs / 1000)} s):`,
    );
    this.retryAfterMs = details.retryAfterMs;
    this.pausedMs = details.pausedMs;
  }
}

export interface ResponseErrorDetails {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** What was wrong, e.g. "body is not JSON". */
  readonly problem: string;
  readonly excerpt: string;
  readonly attempts?: number;
}

/** A response that is not what the API documents: HTML, truncated JSON, an unexpected envelope. */
export class NutcacheResponseError extends NutcacheError {
  override readonly name: string = 'NutcacheResponseError';
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly problem: string;
  readonly excerpt: string;
  readonly attempts: number;

  constructor(details: ResponseErrorDetails) {
    const attempts = details.attempts ?? 1;
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    super(
      `Nutcache ${details.method} ${details.path} (status ${details.status}): ${details.problem}${tries}; body starts ${JSON.stringify(details.excerpt)}`,
    );
    this.status = details.status;
    this.method = details.method;
    this.path = details.path;
    this.problem = details.problem;
    this.excerpt = details.excerpt;
    this.attempts = attempts;
  }
}

/** A body larger than the client's `maxResponseBytes`: cut off while streaming, the request aborted. */
export class NutcacheResponseTooLargeError extends NutcacheResponseError {
  override readonly name: string = 'NutcacheResponseTooLargeError';
  readonly limitBytes: number;

  constructor(details: ResponseErrorDetails & { readonly limitBytes: number }) {
    super(details);
    this.limitBytes = details.limitBytes;
  }
}

/** The connection failed or timed out on every attempt. */
export class NutcacheNetworkError extends NutcacheError {
  override readonly name: string = 'NutcacheNetworkError';
  readonly method: string;
  readonly path: string;
  readonly timedOut: boolean;
  readonly attempts: number;

  constructor(details: {
    method: string;
    path: string;
    timedOut: boolean;
    attempts: number;
    detail: string;
  }) {
    super(
      `Nutcache ${details.method} ${details.path} ${details.timedOut ? 'timed out' : 'failed'} on all ${details.attempts} attempts: ${details.detail}`,
    );
    this.method = details.method;
    this.path = details.path;
    this.timedOut = details.timedOut;
    this.attempts = details.attempts;
  }
}

/** The listing cannot be followed safely: a `navigation-next` loop, too many pages or a foreign host. */
export class NutcachePagingError extends NutcacheError {
  override readonly name: string = 'NutcachePagingError';
  /** 1-based number of the last page read. */
  readonly pageNumber: number;

  constructor(message: string, pageNumber: number) {
    super(message);
    this.pageNumber = pageNumber;
  }
}

/** The overall deadline (e.g. the Lambda's remaining time) would be passed: nothing more is sent. */
export class NutcacheDeadlineError extends NutcacheError {
  override readonly name: string = 'NutcacheDeadlineError';
  readonly deadline: number;

  constructor(message: string, deadline: number) {
    super(`${message} (deadline ${new Date(deadline).toISOString()})`);
    this.deadline = deadline;
  }
}
