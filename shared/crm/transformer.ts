/**
 * The one mapping from a CRM target to the HTTP request its rule sends: method, endpoint (with `*` for a
 * path parameter), the path parameter values, an EventBridge input transformer (InputPathsMap +
 * InputTemplate) and headers. The deployed rule puts exactly this on its API destination and rule target;
 * local delivery and `rules test` feed it, with an event, to `applyInputTransformer`
 * (shared/rules/input-transformer.ts), so both send the same request.
 *
 * How customer values reach the template (EventBridge's semantics decide; docs/sync-rules.md "CRM targets"):
 * every customer value is placed bare, `"name": <f_name>`, for both CRMs. EventBridge then inserts the value's
 * JSON text: a string arrives quoted AND escaped, a number as a number, `null` as `null`. Inside quotes
 * (`"<f_name>"`) EventBridge would insert a string unescaped (a `"` in a customer's name would break the
 * body) and a null as the text "null" (HubSpot would store the word). An input transformer has no
 * conditionals, so a Nutcache null cannot become HubSpot's "" (its documented clear): HubSpot receives
 * null. Salesforce clears a field with null, exactly. A mapped field missing from the customer leaves its
 * placeholder empty, so the body is not JSON and EventBridge does not deliver it (the target's DLQ gets it);
 * Nutcache sends every documented field, so this only happens to a malformed record.
 * The customer id is a number: HubSpot's `id` wants a string, so it is placed in quotes ("147504", digits
 * only, nothing to escape); Salesforce takes it as the path parameter `$.detail.customerId`.
 * An input transformer has no conditionals, so a deletion cannot reuse the upsert's template: `onDelete`
 * chooses between no request at all and a constant set of properties (its own template).
 */
import type { ChangeType } from '../events/contract.ts';
import { type CompileOptions, compileRulePattern, type EventPattern } from '../rules/compile.ts';
import type { SyncRuleFilter } from '../rules/model.ts';
import {
  type CrmConstant,
  type CrmTarget,
  DEFAULT_HUBSPOT_BASE_URL,
  type HubSpotTarget,
  SALESFORCE_API_VERSION,
  type SalesforceTarget,
} from './model.ts';

export interface CrmInputTransformer {
  readonly inputPathsMap: Readonly<Record<string, string>>;
  readonly inputTemplate: string;
}

/** The request a CRM rule target sends for one change type. */
export interface CrmDelivery {
  readonly httpMethod: 'POST' | 'PATCH';
  /** The API destination's endpoint; `*` stands for the path parameter. */
  readonly endpoint: string;
  /** JSONPaths into the event, one per `*` of the endpoint, in order (the rule target's PathParameterValues). */
  readonly pathParameterValues?: readonly string[];
  readonly inputTransformer: CrmInputTransformer;
  /** Headers besides the connection's Authorization (the rule target's HeaderParameters). */
  readonly headers: Readonly<Record<string, string>>;
}

/** The event field holding the Nutcache customer id. */
export const CUSTOMER_ID_PATH = '$.detail.customerId';
const ID_VARIABLE = 'customerId';
const JSON_HEADERS = { 'Content-Type': 'application/json' } as const;

/**
 * The EventBridge pattern fields a CRM rule adds under `detail`: a truncated event carries no customer
 * (`after` is null), so mapping it would clear every mapped field. Such events are left to other rules.
 */
export const CRM_DETAIL_PATTERN = { truncated: [{ exists: false }] } as const;

/** A CRM rule's EventBridge pattern: the rule's own, plus `CRM_DETAIL_PATTERN` (deployed and local alike). */
export function crmRulePattern(rule: SyncRuleFilter, options: CompileOptions = {}): EventPattern {
  const pattern = compileRulePattern(rule, options);
  const detail = (pattern.detail ?? {}) as EventPattern;
  return { ...pattern, detail: { ...detail, ...CRM_DETAIL_PATTERN } };
}

/** The input-transformer variable of a customer field (InputPathsMap keys are `[A-Za-z0-9_-]+`). */
export function fieldVariable(field: string): string {
  return `f_${field}`;
}

/** One variable per mapped customer field, reading the customer after the change. */
function fieldPaths(mapping: Readonly<Record<string, string>>): Record<string, string> {
  const paths: Record<string, string> = { [ID_VARIABLE]: CUSTOMER_ID_PATH };
  for (const field of Object.values(mapping)) paths[fieldVariable(field)] = `$.detail.after.${field}`;
  return paths;
}

/** `{"a": <f_x>, …}` from CRM name → customer field: bare placeholders (values as their JSON text). */
function objectTemplate(mapping: Readonly<Record<string, string>>): string {
  const parts = Object.entries(mapping).map(
    ([name, field]) => `${JSON.stringify(name)}:<${fieldVariable(field)}>`,
  );
  return `{${parts.join(',')}}`;
}

function constantsTemplate(set: Readonly<Record<string, CrmConstant>>): string {
  return JSON.stringify(set);
}

/** What a change type sends: the mapped fields, the deletion's constants, or nothing. */
function bodyKind(
  target: CrmTarget,
  changeType: ChangeType,
): { kind: 'mapped' } | { kind: 'constants'; set: Readonly<Record<string, CrmConstant>> } | undefined {
  if (changeType !== 'deleted') return { kind: 'mapped' };
  const onDelete = target.onDelete ?? 'ignore';
  return onDelete === 'ignore' ? undefined : { kind: 'constants', set: onDelete.set };
}

function hubspotDelivery(target: HubSpotTarget, changeType: ChangeType): CrmDelivery | undefined {
  const body = bodyKind(target, changeType);
  if (!body) return undefined;
  const base = (target.baseUrl ?? DEFAULT_HUBSPOT_BASE_URL).replace(/\/+$/, '');
  const properties = body.kind === 'mapped' ? objectTemplate(target.properties) : constantsTemplate(body.set);
  const inputPathsMap =
    body.kind === 'mapped' ? fieldPaths(target.properties) : { [ID_VARIABLE]: CUSTOMER_ID_PATH };
  return {
    httpMethod: 'POST',
    endpoint: `${base}/crm/v3/objects/${target.object}/batch/upsert`,
    inputTransformer: {
      inputPathsMap,
      inputTemplate: `{"inputs":[{"idProperty":${JSON.stringify(target.idProperty)},"id":"<${ID_VARIABLE}>","properties":${properties}}]}`,
    },
    headers: JSON_HEADERS,
  };
}

function salesforceDelivery(target: SalesforceTarget, changeType: ChangeType): CrmDelivery | undefined {
  const body = bodyKind(target, changeType);
  if (!body) return undefined;
  const base = target.instanceUrl.replace(/\/+$/, '');
  const mapped = body.kind === 'mapped';
  const paths = mapped ? fieldPaths(target.fields) : {};
  delete paths[ID_VARIABLE];
  return {
    httpMethod: 'PATCH',
    endpoint: `${base}/services/data/${SALESFORCE_API_VERSION}/sobjects/${target.object}/${target.externalIdField}/*`,
    pathParameterValues: [CUSTOMER_ID_PATH],
    inputTransformer: {
      inputPathsMap: paths,
      inputTemplate: mapped ? objectTemplate(target.fields) : constantsTemplate(body.set),
    },
    headers: JSON_HEADERS,
  };
}

/**
 * The request a CRM target sends for events of `changeType`, or undefined when it sends none (a deletion
 * with `onDelete: ignore`). Created, updated and snapshot events send the same upsert.
 */
export function crmDelivery(target: CrmTarget, changeType: ChangeType): CrmDelivery | undefined {
  return target.type === 'hubspot'
    ? hubspotDelivery(target, changeType)
    : salesforceDelivery(target, changeType);
}

/** The change types whose requests differ: upserts (created, updated, snapshot) and the deletion. */
export const UPSERT_CHANGE_TYPES: readonly ChangeType[] = ['created', 'updated', 'snapshot'];
