/**
 * CRM targets of sync rules: upsert Nutcache customers into HubSpot or Salesforce with no code. A CRM target
 * names the CRM object, the property that holds the Nutcache customer id, and a mapping CRM field →
 * customer field; `transformer.ts` turns it into the one HTTP request (method, endpoint, input transformer)
 * that both the deployed rule (an EventBridge API destination) and local delivery send.
 *
 * Field names are checked where a typo would otherwise only show up as a failed delivery: a mapping may
 * only name documented customer fields (shared/customer.ts), CRM names follow each CRM's rules for API
 * names, and the id property is never also a mapped property (the CRM would get two values for it).
 */
import { z } from 'zod';
import { KNOWN_CUSTOMER_FIELDS } from '../customer.ts';

export const DEFAULT_HUBSPOT_BASE_URL = 'https://api.hubapi.com';
export const SALESFORCE_API_VERSION = 'v62.0';

/** A value a deletion may set: HubSpot stores strings; Salesforce takes any JSON scalar (null clears). */
export type CrmConstant = string | number | boolean | null;

/** What a deleted customer does to its CRM record: nothing, or a constant set of properties (e.g. a status). */
export type OnDelete = 'ignore' | { readonly set: Readonly<Record<string, CrmConstant>> };

export interface HubSpotTarget {
  readonly type: 'hubspot';
  /** A HubSpot CRM object type: `companies`, `contacts`, or a custom object's id such as `2-123456`. */
  readonly object: string;
  /** A unique HubSpot property holding the Nutcache customer id (the upsert key). */
  readonly idProperty: string;
  /** HubSpot property (internal name) → customer field. */
  readonly properties: Readonly<Record<string, string>>;
  /** Default https://api.hubapi.com. */
  readonly baseUrl?: string;
  /** Secrets Manager secret holding the private-app token (deployed); locally HUBSPOT_TOKEN. */
  readonly tokenSecretArn?: string;
  /** Default `ignore`. */
  readonly onDelete?: OnDelete;
  /** The most requests per second EventBridge sends (deployed API destination); default 300. */
  readonly rateLimitPerSecond?: number;
}

export interface SalesforceOAuth {
  readonly clientId: string;
  /** Secrets Manager secret holding the connected app's client secret (deployed). */
  readonly clientSecretArn?: string;
  /** Default `{instanceUrl}/services/oauth2/token` (client-credentials flow). */
  readonly tokenUrl?: string;
}

export interface SalesforceTarget {
  readonly type: 'salesforce';
  /** `https://<my-domain>.my.salesforce.com`. */
  readonly instanceUrl: string;
  /** An sObject API name: `Account`, `Contact`, `Customer__c`. */
  readonly object: string;
  /** An external-id field of the object holding the Nutcache customer id (the upsert key). */
  readonly externalIdField: string;
  /** Salesforce field API name → customer field. */
  readonly fields: Readonly<Record<string, string>>;
  /** Client-credentials flow; locally SALESFORCE_ACCESS_TOKEN is used instead. */
  readonly oauth: SalesforceOAuth;
  /** Default `ignore`. */
  readonly onDelete?: OnDelete;
  /** The most requests per second EventBridge sends (deployed API destination); default 300. */
  readonly rateLimitPerSecond?: number;
}

export type CrmTarget = HubSpotTarget | SalesforceTarget;

export function isCrmTarget(target: { readonly type: string }): target is CrmTarget {
  return target.type === 'hubspot' || target.type === 'salesforce';
}

// ---------------------------------------------------------------------------------------------------
// Names

/** HubSpot internal names: lower-case letters, digits and underscores, starting with a letter. */
export const HUBSPOT_PROPERTY_NAME = /^[a-z][a-z0-9_]{0,99}$/;
/** HubSpot object types: a name (`companies`, `p_orders`) or an object type id (`0-2`, `2-123456`). */
export const HUBSPOT_OBJECT = /^(?:[a-z][a-z0-9_]{0,99}|[0-9]+-[0-9]+)$/;
/**
 * Salesforce API names: a letter, then letters, digits and single underscores, not ending with one; custom
 * ones end in `__c` (or `__r`, `__x`, …), optionally behind a namespace prefix `ns__`.
 */
export const SALESFORCE_API_NAME =
  /^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?:(?:__[A-Za-z](?:[A-Za-z0-9]|_(?!_))*)?__[a-z]{1,3})?(?<!_)$/;

const KNOWN_FIELDS: readonly string[] = KNOWN_CUSTOMER_FIELDS;

const customerFieldSchema = z.string().refine((field) => KNOWN_FIELDS.includes(field), {
  error: (issue) =>
    `unknown customer field '${String(issue.input)}' (known fields: ${KNOWN_FIELDS.join(', ')})`,
});

function mappingSchema(name: RegExp, what: string) {
  return z
    .record(z.string(), customerFieldSchema)
    .superRefine((mapping, ctx) => {
      for (const key of Object.keys(mapping)) {
        if (!name.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `not a ${what}` });
      }
    })
    .refine((mapping) => Object.keys(mapping).length > 0, 'map at least one field');
}

const HUBSPOT_NAME_RULE = 'HubSpot internal name (lower-case letters, digits, "_", starting with a letter)';
const SALESFORCE_NAME_RULE = 'Salesforce API name (e.g. "Name", "BillingCity", "Nutcache_Id__c")';

/** An http(s) URL: https, or http to a loopback address (local tests and the sandbox's CRM stand-in). */
const serviceUrlSchema = z
  .url({ protocol: /^https?$/, error: 'must be an https:// URL' })
  .refine((raw) => {
    const url = new URL(raw);
    return url.protocol === 'https:' || ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  }, 'must be an https:// URL (http only to a loopback address)')
  .refine((raw) => {
    const url = new URL(raw);
    return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  }, 'give the base URL only: no query, fragment or credentials');

const secretArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:secretsmanager:/, 'must be an ARN of secretsmanager (arn:aws:secretsmanager:…)');

/** An API destination's invocation rate limit: EventBridge accepts whole numbers 1..300 (its default, 300). */
export const rateLimitSchema = z
  .int('rateLimitPerSecond must be a whole number of requests per second')
  .min(1, 'rateLimitPerSecond must be at least 1')
  .max(300, "rateLimitPerSecond must be at most 300 (EventBridge's limit and default)");

const constantSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

function onDeleteSchema(name: RegExp, what: string, value: z.ZodType<CrmConstant>) {
  return z.union([
    z.literal('ignore'),
    z.strictObject({
      set: z
        .record(z.string(), value)
        .superRefine((set, ctx) => {
          for (const key of Object.keys(set)) {
            if (!name.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `not a ${what}` });
          }
        })
        .refine((set) => Object.keys(set).length > 0, 'set at least one property'),
    }),
  ]);
}

export const hubspotTargetSchema = z
  .strictObject({
    type: z.literal('hubspot'),
    object: z.string().regex(HUBSPOT_OBJECT, 'a HubSpot object type: "companies", "contacts", "2-123456"'),
    idProperty: z.string().regex(HUBSPOT_PROPERTY_NAME, `a ${HUBSPOT_NAME_RULE}`),
    properties: mappingSchema(HUBSPOT_PROPERTY_NAME, HUBSPOT_NAME_RULE),
    baseUrl: serviceUrlSchema.optional(),
    tokenSecretArn: secretArnSchema.optional(),
    // HubSpot property values are strings: a deletion sets strings (e.g. "deleted"; "" clears).
    onDelete: onDeleteSchema(HUBSPOT_PROPERTY_NAME, HUBSPOT_NAME_RULE, z.string()).optional(),
    rateLimitPerSecond: rateLimitSchema.optional(),
  })
  .superRefine((target, ctx) => {
    if (target.idProperty in target.properties) {
      ctx.addIssue({
        code: 'custom',
        path: ['properties', target.idProperty],
        message: `'${target.idProperty}' is the idProperty: it always holds the customer id`,
      });
    }
  });

export const salesforceTargetSchema = z
  .strictObject({
    type: z.literal('salesforce'),
    instanceUrl: serviceUrlSchema,
    object: z.string().regex(SALESFORCE_API_NAME, `a ${SALESFORCE_NAME_RULE}`),
    externalIdField: z.string().regex(SALESFORCE_API_NAME, `a ${SALESFORCE_NAME_RULE}`),
    fields: mappingSchema(SALESFORCE_API_NAME, SALESFORCE_NAME_RULE),
    oauth: z.strictObject({
      clientId: z.string().min(1),
      clientSecretArn: secretArnSchema.optional(),
      tokenUrl: serviceUrlSchema.optional(),
    }),
    onDelete: onDeleteSchema(SALESFORCE_API_NAME, SALESFORCE_NAME_RULE, constantSchema).optional(),
    rateLimitPerSecond: rateLimitSchema.optional(),
  })
  .superRefine((target, ctx) => {
    // Salesforce refuses an upsert body that also names the external id field the URL names.
    const clash = Object.keys(target.fields).find(
      (f) => f.toLowerCase() === target.externalIdField.toLowerCase(),
    );
    if (clash !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['fields', clash],
        message: `'${clash}' is the externalIdField: the URL carries the customer id`,
      });
    }
  });

/** The customer fields a CRM target reads (for docs and `rules validate`). */
export function mappedFields(target: CrmTarget): string[] {
  const mapping = target.type === 'hubspot' ? target.properties : target.fields;
  return [...new Set(Object.values(mapping))];
}
