/**
 * The exact HTTP request a CRM rule target sends for one event, computed as the deployed rule computes it:
 * `crmDelivery` (the mapping) + the compiled input transformer and the path parameters (EventBridge's semantics).
 * Used by local delivery (`poll --rules`, `npm start -- --rules`) and printed by `rules test`.
 */
import { z } from 'zod';
import type { ChangeType } from '../events/contract.ts';
import {
  type CompiledInputTransformer,
  compileInputTransformer,
  fillPathParameters,
  resolvePathParameterValues,
  type TransformContext,
} from '../rules/input-transformer.ts';
import type { CrmTarget } from './model.ts';
import { type CrmDelivery, crmDelivery } from './transformer.ts';

export interface CrmHttpRequest {
  readonly method: 'POST' | 'PATCH';
  readonly url: string;
  /** Content-Type and, when a token is given, Authorization. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The environment variable holding a CRM's token for local delivery. */
export const TOKEN_VARIABLES = {
  hubspot: 'HUBSPOT_TOKEN',
  salesforce: 'SALESFORCE_ACCESS_TOKEN',
} as const satisfies Record<CrmTarget['type'], string>;

const changeTypeOf = z.object({
  detail: z.object({ changeType: z.enum(['created', 'updated', 'deleted', 'snapshot']) }),
});

export interface CrmRequestOptions {
  readonly token?: string;
  readonly context?: TransformContext;
}

/** `crmRequest` for one target, ready for many events. */
export type CrmRequester = (event: unknown, options?: CrmRequestOptions) => CrmHttpRequest | undefined;

interface CompiledDelivery {
  readonly delivery: CrmDelivery;
  readonly transformer: CompiledInputTransformer;
}

/**
 * `crmRequest` for `target`, building each change type's delivery and compiling its input transformer once,
 * on its first event (so a transformer EventBridge would refuse still fails that event, not construction).
 */
export function crmRequester(target: CrmTarget): CrmRequester {
  const compiled = new Map<ChangeType, CompiledDelivery | undefined>();
  const compiledFor = (changeType: ChangeType): CompiledDelivery | undefined => {
    if (!compiled.has(changeType)) {
      const delivery = crmDelivery(target, changeType);
      const transformer = delivery && compileInputTransformer(delivery.inputTransformer);
      compiled.set(changeType, delivery && transformer && { delivery, transformer });
    }
    return compiled.get(changeType);
  };
  return (event, options = {}) => {
    const parsed = changeTypeOf.safeParse(event);
    const plan = parsed.success ? compiledFor(parsed.data.detail.changeType) : undefined;
    return plan && requestOf(plan, event, options);
  };
}

function requestOf(
  { delivery, transformer }: CompiledDelivery,
  event: unknown,
  options: CrmRequestOptions,
): CrmHttpRequest {
  const body = transformer.apply(event, options.context);
  const url = delivery.pathParameterValues
    ? fillPathParameters(delivery.endpoint, resolvePathParameterValues(delivery.pathParameterValues, event))
    : delivery.endpoint;
  return {
    method: delivery.httpMethod,
    url,
    headers: {
      ...delivery.headers,
      ...(options.token !== undefined ? { Authorization: `Bearer ${options.token}` } : {}),
    },
    body,
  };
}

/**
 * The request for `event`, or undefined when the target sends none for its change type (a deletion with
 * `onDelete: ignore`). `token` adds `Authorization: Bearer` (deployed, the connection adds it). Throws
 * `InputTransformerError` when EventBridge would not deliver (e.g. a mapped field missing from the event).
 */
export function crmRequest(
  target: CrmTarget,
  event: unknown,
  options: CrmRequestOptions = {},
): CrmHttpRequest | undefined {
  return crmRequester(target)(event, options);
}

/**
 * The request as text (`rules test`): the request line, the headers and the body. A token is never shown:
 * without one, the Authorization line says where the deployed connection (or local delivery) takes it from.
 */
export function formatCrmRequest(request: CrmHttpRequest, target: CrmTarget): string {
  const headers = Object.entries(request.headers)
    .filter(([name]) => name !== 'Authorization')
    .map(([name, value]) => `${name}: ${value}`);
  const auth = `Authorization: Bearer <token: the connection's; locally ${TOKEN_VARIABLES[target.type]}>`;
  return [`${request.method} ${request.url}`, auth, ...headers, '', request.body].join('\n');
}
