/**
 * One webhook delivery attempt over HTTP, and the retry policy around it.
 *
 * Policy (Standard Webhooks 1.0): only 2xx is success; 410 Gone means the endpoint is gone for good (the
 * subscription is disabled); anything else (other statuses, timeouts, network errors, refused redirects) is
 * retried on a schedule close to the spec's: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 12 h three
 * times (the spec's 14 h, 20 h and 24 h waits are capped at 12 h, the longest SQS visibility timeout): 10
 * attempts over about 2.2 days. A `Retry-After` on 429/503 is honoured: the next attempt is never earlier.
 * SQS counts its 12 h from the receive, so queued-delivery.ts trims each wait to what is left of it (less a
 * margin): the 12 h waits are in practice about 11 h 58 min.
 *
 * Safety: https only, except http to a loopback address when explicitly allowed (local runs); redirects are
 * not followed by fetch (`redirect: 'manual'`); a 307/308 to the same origin is followed (up to 3 times),
 * any other redirect is a failed attempt. Error reasons name the host, never the full URL (which may carry
 * a token).
 */
import { isLoopbackHost } from '../util/loopback.ts';

/** Waits before attempts 2..10, in seconds. */
export const RETRY_SCHEDULE_SECONDS: readonly number[] = [
  5, 300, 1800, 7200, 18_000, 36_000, 43_200, 43_200, 43_200,
];
export const MAX_DELIVERY_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length + 1;
/** SQS's longest visibility timeout. */
export const MAX_RETRY_DELAY_SECONDS = 43_200;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
const MAX_SAME_ORIGIN_REDIRECTS = 3;

export type AttemptOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  | { readonly kind: 'gone'; readonly status: 410 }
  | {
      readonly kind: 'failed';
      readonly status?: number;
      readonly retryAfterSeconds?: number;
      readonly reason: string;
    };

export class DeliveryUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryUrlError';
  }
}

/**
 * Checks a delivery URL: https, or http to a loopback host when `allowLoopbackHttp` (local runs only).
 * The error message names the problem, not the URL.
 */
export function checkDeliveryUrl(url: string, options: { readonly allowLoopbackHttp?: boolean } = {}): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DeliveryUrlError('webhook URL is not a valid absolute URL');
  }
  if (parsed.username || parsed.password)
    throw new DeliveryUrlError('webhook URL must not carry credentials');
  if (parsed.protocol === 'https:') return parsed;
  if (parsed.protocol === 'http:' && options.allowLoopbackHttp && isLoopbackHost(parsed.hostname))
    return parsed;
  throw new DeliveryUrlError(
    options.allowLoopbackHttp
      ? `webhook URL must be https:// (http:// is allowed only to a loopback address); got ${parsed.protocol}//${parsed.host}`
      : `webhook URL must be https://; got ${parsed.protocol}//${parsed.host}`,
  );
}

/** `Retry-After` as seconds from now (delta-seconds or an HTTP date); undefined when absent or unusable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * Seconds to wait before the next attempt after attempt number `attempt` (1-based) failed, or undefined
 * when the attempts are exhausted. A Retry-After pushes the wait later, never earlier; all waits are capped
 * at 12 h.
 */
export function retryDelaySeconds(attempt: number, retryAfterSeconds?: number): number | undefined {
  const scheduled = RETRY_SCHEDULE_SECONDS[attempt - 1];
  if (scheduled === undefined) return undefined;
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.max(scheduled, retryAfterSeconds ?? 0));
}

export interface PostWebhookOptions {
  readonly url: URL;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly allowLoopbackHttp?: boolean;
  /** For Retry-After dates. */
  readonly nowMs: number;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timed out';
    const cause = (error as { cause?: { code?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return `network error (${cause.code})`;
    return `network error (${error.name})`;
  }
  return 'network error';
}

/** POSTs one signed webhook and classifies the answer. Never throws for HTTP or network failures. */
export async function postWebhook(options: PostWebhookOptions): Promise<AttemptOutcome> {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let url = options.url;
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        body: options.body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'nutcache-cdc-webhooks/1',
          ...options.headers,
        },
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      return { kind: 'failed', reason: `${url.host}: ${describeError(error)}` };
    }
    // The body is not used; release the connection.
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { kind: 'delivered', status };
    if (status === 410) return { kind: 'gone', status: 410 };
    if (status >= 300 && status < 400) {
      const location = response.headers.get('location');
      let next: URL | undefined;
      try {
        next = location ? new URL(location, url) : undefined;
      } catch {
        next = undefined;
      }
      if (
        (status === 307 || status === 308) &&
        next !== undefined &&
        next.origin === url.origin &&
        hop < MAX_SAME_ORIGIN_REDIRECTS
      ) {
        url = next;
        continue;
      }
      const why = next && next.origin !== url.origin ? 'to another host, refused' : 'not followed';
      return { kind: 'failed', status, reason: `${url.host}: HTTP ${status} redirect ${why}` };
    }
    const retryAfterSeconds =
      status === 429 || status === 503
        ? parseRetryAfter(response.headers.get('retry-after'), options.nowMs)
        : undefined;
    return {
      kind: 'failed',
      status,
      reason: `${url.host}: HTTP ${status}`,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    };
  }
}
