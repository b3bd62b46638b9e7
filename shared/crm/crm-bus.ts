/**
 * `CrmRulesBus`: an `EventBus` for local runs (`poll --rules`, `npm start -- --rules` / `--crm`) that hands
 * each published event to the events' usual output (`inner`), then delivers it to the CRM target of every
 * CRM rule whose pattern matches, with the request the deployed rule would send (request.ts).
 *
 * Per-entry results follow the deployed target's retry rules, so the publisher retries what EventBridge would
 * retry: 2xx → ok; 429 → `ThrottlingException` and 5xx, timeouts and network errors → `InternalFailure`
 * (retried; an upsert sent twice leaves the same record); 401/403 → `AccessDenied`, any other 4xx and a body
 * EventBridge would not deliver → `ValidationException` (not retried: the event goes to the dead-letter sink
 * with the reason, as the deployed rule's DLQ would get it).
 */
import type { BusEntry, BusEntryResult, EventBus, Log } from '../ports.ts';
import { InputTransformerError } from '../rules/input-transformer.ts';
import { compileEventPattern, matchesCompiledPattern } from '../rules/matcher.ts';
import type { SyncRuleSpec } from '../rules/model.ts';
import type { CompiledPattern } from '../rules/pattern.ts';
import { type LocalEventEnvelope, toEventBridgeEvent } from '../webhooks/message.ts';
import { type CrmTarget, isCrmTarget } from './model.ts';
import { type CrmHttpRequest, type CrmRequester, crmRequester } from './request.ts';
import { crmRulePattern } from './transformer.ts';

export interface CrmRule {
  readonly name: string;
  readonly target: CrmTarget;
}

/** One request sent to a CRM, with its answer (for the demo's printing and the tests). */
export interface CrmDeliveryReport {
  readonly rule: string;
  readonly customerId: unknown;
  readonly changeType: unknown;
  readonly request: CrmHttpRequest;
  /** HTTP status, or 0 when no answer came. */
  readonly status: number;
  readonly reason?: string;
}

export interface CrmRulesBusOptions extends LocalEventEnvelope {
  /** The rules file's rules: the CRM ones are delivered, the others left alone. */
  readonly rules: readonly SyncRuleSpec[];
  /** Tokens by CRM (locally HUBSPOT_TOKEN, SALESFORCE_ACCESS_TOKEN). */
  readonly tokens: Readonly<Partial<Record<CrmTarget['type'], string>>>;
  /** The events' other output (stdout, a file, the terminal), called first. */
  readonly inner?: EventBus;
  readonly eventSource?: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly log?: Log;
  readonly onDelivery?: (report: CrmDeliveryReport) => void;
}

type Failure = Extract<BusEntryResult, { ok: false }>;

/** The CRM rules of a rules file, each with its compiled pattern and request builder (reused per event). */
function crmRules(rules: readonly SyncRuleSpec[], eventSource: string | undefined) {
  return rules.flatMap((rule) => {
    const { target } = rule;
    if (!isCrmTarget(target)) return [];
    const pattern: CompiledPattern = compileEventPattern(
      crmRulePattern(rule, eventSource ? { eventSource } : {}),
    );
    return [{ name: rule.name, target, pattern, request: crmRequester(target) }];
  });
}

/** The per-entry code of an HTTP answer (undefined: delivered). */
function failureOf(status: number, reason: string): Failure | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 429) return { ok: false, errorCode: 'ThrottlingException', errorMessage: reason };
  if (status === 0 || status >= 500) return { ok: false, errorCode: 'InternalFailure', errorMessage: reason };
  if (status === 401 || status === 403) return { ok: false, errorCode: 'AccessDenied', errorMessage: reason };
  return { ok: false, errorCode: 'ValidationException', errorMessage: reason };
}

export class CrmRulesBus implements EventBus {
  private readonly rules: ReturnType<typeof crmRules>;
  /** Requests answered 2xx since creation. */
  delivered = 0;

  constructor(private readonly options: CrmRulesBusOptions) {
    this.rules = crmRules(options.rules, options.eventSource);
  }

  /** The names of the rules this bus delivers. */
  get ruleNames(): string[] {
    return this.rules.map((r) => r.name);
  }

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    const first = this.options.inner
      ? await this.options.inner.putEvents(entries)
      : entries.map((): BusEntryResult => ({ ok: true }));
    const results: BusEntryResult[] = [];
    for (const [index, entry] of entries.entries()) {
      const previous = first[index] ?? { ok: false, errorCode: 'MissingResult' };
      results.push(previous.ok ? ((await this.deliver(entry)) ?? previous) : previous);
    }
    return results;
  }

  /** Sends the entry to every matching CRM rule; the first failure, or undefined when all went through. */
  private async deliver(entry: BusEntry): Promise<Failure | undefined> {
    let event: ReturnType<typeof toEventBridgeEvent>;
    try {
      event = toEventBridgeEvent(entry, this.options);
    } catch {
      return { ok: false, errorCode: 'MalformedDetail', errorMessage: 'Detail is not valid JSON.' };
    }
    let failure: Failure | undefined;
    for (const rule of this.rules) {
      if (!matchesCompiledPattern(rule.pattern, event)) continue;
      failure ??= await this.send(rule, event);
    }
    return failure;
  }

  private async send(
    rule: CrmRule & { readonly request: CrmRequester },
    event: ReturnType<typeof toEventBridgeEvent>,
  ): Promise<Failure | undefined> {
    const token = this.options.tokens[rule.target.type];
    let request: CrmHttpRequest | undefined;
    try {
      request = rule.request(event, {
        ...(token !== undefined ? { token } : {}),
        context: { ruleName: rule.name },
      });
    } catch (error) {
      if (!(error instanceof InputTransformerError)) throw error;
      this.options.log?.error('CRM rule cannot transform the event', {
        rule: rule.name,
        reason: error.message,
      });
      return {
        ok: false,
        errorCode: 'ValidationException',
        errorMessage: `rule '${rule.name}': ${error.message}`,
      };
    }
    if (!request) return undefined;
    const { status, reason } = await this.exchange(request);
    const detail = event.detail as { customerId?: unknown; changeType?: unknown };
    this.options.onDelivery?.({
      rule: rule.name,
      customerId: detail.customerId,
      changeType: detail.changeType,
      request,
      status,
      ...(reason !== undefined ? { reason } : {}),
    });
    const failure = failureOf(status, `rule '${rule.name}': ${reason ?? `HTTP ${status}`}`);
    if (failure) this.options.log?.warn('CRM delivery failed', { rule: rule.name, status, reason });
    else this.delivered += 1;
    return failure;
  }

  /** One HTTP exchange; never throws for HTTP or network failures (status 0 then). */
  private async exchange(request: CrmHttpRequest): Promise<{ status: number; reason?: string }> {
    const doFetch = this.options.fetch ?? fetch;
    try {
      const response = await doFetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) return { status: response.status };
      return { status: response.status, reason: `HTTP ${response.status} ${text.slice(0, 300)}` };
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      return { status: 0, reason: name === 'TimeoutError' ? 'timed out' : `network error (${name})` };
    }
  }
}
