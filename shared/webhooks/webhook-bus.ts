/**
 * `WebhookBus`: an `EventBus` for local runs that delivers each PutEvents entry to a URL as a Standard
 * Webhooks signed POST of the EventBridge event JSON (the body a deployed webhook subscription sends), so a
 * user can point `npm start` or `nutcache-cdc poll` at their own endpoint.
 *
 * One attempt per entry per call; retrying is the publisher's job (shared/publish/reliable.ts), driven by
 * the per-entry codes returned here:
 * - 2xx → ok;
 * - 429 → `ThrottlingException`, other failures (5xx, 4xx, timeout, network, refused redirect) →
 *   `InternalFailure`: both retryable, so the publisher backs off and re-sends (at-least-once);
 * - 410 Gone → `AccessDenied` (not retryable: the events go to the dead-letter sink) and the bus disables
 *   itself: later entries fail the same way without calling the endpoint.
 * Entries that do not match `pattern` (when given) are accepted without being sent, as EventBridge would
 * accept an event no rule matches.
 */

import type { BusEntry, BusEntryResult, EventBus, Log } from '../ports.ts';
import { compileEventPattern, matchesCompiledPattern } from '../rules/matcher.ts';
import type { CompiledPattern } from '../rules/pattern.ts';
import { checkDeliveryUrl, DEFAULT_REQUEST_TIMEOUT_MS, postWebhook } from './http.ts';
import { type LocalEventEnvelope, toEventBridgeEvent, webhookIdOf } from './message.ts';
import { parseSigningSecrets, signWebhook } from './signing.ts';

export interface WebhookBusOptions extends LocalEventEnvelope {
  /** Where to POST. https, or http to a loopback address (127.0.0.1, ::1, localhost). */
  readonly url: string;
  /** `whsec_…`, or several (all sign each message, as during a rotation). */
  readonly secret: string | readonly string[];
  /** Only entries matching this EventBridge pattern are delivered (e.g. a compiled sync rule). */
  readonly pattern?: unknown;
  /** Per-request timeout (default 15 s). */
  readonly timeoutMs?: number;
  /** Default true: a local bus may deliver over plain http to loopback. */
  readonly allowLoopbackHttp?: boolean;
  readonly fetch?: typeof fetch;
  /** Clock for `webhook-timestamp` (default Date.now). */
  readonly now?: () => number;
  readonly log?: Log;
}

export class WebhookBus implements EventBus {
  private readonly url: URL;
  private readonly secrets: readonly string[];
  private readonly now: () => number;
  private goneSince: number | undefined;
  /** `options.pattern`, compiled on first use (an invalid pattern still fails the first delivery). */
  private compiledPattern: CompiledPattern | undefined;
  /** Messages delivered (2xx) since creation. */
  delivered = 0;

  constructor(private readonly options: WebhookBusOptions) {
    this.url = checkDeliveryUrl(options.url, { allowLoopbackHttp: options.allowLoopbackHttp ?? true });
    const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
    this.secrets = secrets.flatMap((s) => parseSigningSecrets(s));
    this.now = options.now ?? Date.now;
  }

  /** True once the endpoint answered 410 Gone. */
  get disabled(): boolean {
    return this.goneSince !== undefined;
  }

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    const results: BusEntryResult[] = [];
    for (const entry of entries) results.push(await this.deliver(entry));
    return results;
  }

  private async deliver(entry: BusEntry): Promise<BusEntryResult> {
    let event: ReturnType<typeof toEventBridgeEvent>;
    try {
      event = toEventBridgeEvent(entry, this.options);
    } catch {
      return { ok: false, errorCode: 'MalformedDetail', errorMessage: 'Detail is not valid JSON.' };
    }
    if (this.options.pattern !== undefined) {
      this.compiledPattern ??= compileEventPattern(this.options.pattern);
      if (!matchesCompiledPattern(this.compiledPattern, event)) return { ok: true, busEventId: event.id };
    }
    if (this.goneSince !== undefined) {
      return {
        ok: false,
        errorCode: 'AccessDenied',
        errorMessage: 'Webhook endpoint answered 410 Gone; disabled.',
      };
    }
    const body = JSON.stringify(event);
    const id = webhookIdOf(event) ?? event.id;
    const now = this.now();
    const outcome = await postWebhook({
      url: this.url,
      body,
      headers: { ...signWebhook(id, now, body, this.secrets) },
      nowMs: now,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    if (outcome.kind === 'delivered') {
      this.delivered += 1;
      return { ok: true, busEventId: event.id };
    }
    if (outcome.kind === 'gone') {
      this.goneSince = now;
      this.options.log?.error('Webhook endpoint answered 410 Gone; no further events will be sent to it', {
        host: this.url.host,
      });
      return { ok: false, errorCode: 'AccessDenied', errorMessage: 'Webhook endpoint answered 410 Gone.' };
    }
    this.options.log?.warn('Webhook delivery failed', { reason: outcome.reason, webhookId: id });
    return {
      ok: false,
      errorCode: outcome.status === 429 ? 'ThrottlingException' : 'InternalFailure',
      errorMessage: outcome.reason,
    };
  }
}
