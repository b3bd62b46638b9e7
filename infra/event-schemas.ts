/**
 * The EventBridge schema documents (JSON Schema Draft 4) published to the schema registry, so consumers
 * can download typed bindings. They are read from `schema/*.schema.json` (generated from
 * shared/events/contract.ts by `npm run schema`) when those files exist, and otherwise generated here from
 * the same zod schemas, so the registry can never drift from the contract.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import {
  ANOMALY_DETAIL_TYPE,
  anomalyDetailSchema,
  customerChangeDetailSchema,
  DETAIL_TYPES,
  ORGANIZATION_STALE_DETAIL_TYPE,
  organizationStaleDetailSchema,
} from '../shared/events/contract.ts';

export const CHANGE_EVENT_SCHEMA_FILE = 'schema/customer-change-event.schema.json';
export const ANOMALY_EVENT_SCHEMA_FILE = 'schema/customer-sync-anomaly-event.schema.json';
export const ORGANIZATION_STALE_EVENT_SCHEMA_FILE = 'schema/organization-stale-event.schema.json';

type JsonObject = { [key: string]: unknown };

export interface EventSchemaDocument {
  /** Registry schema name, e.g. `nutcache.customers@CustomerChange`. */
  readonly name: string;
  readonly description: string;
  /** The JSON Schema Draft 4 document, as a string (the registry's `Content`). */
  readonly content: string;
  /** Where the detail schema came from. */
  readonly origin: 'file' | 'generated';
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Wraps a detail schema as a whole EventBridge event (the envelope the registry describes): `definitions`
 * are hoisted to the root so `#/definitions/…` references keep resolving.
 */
export function wrapAsEventSchema(
  detail: JsonObject,
  options: { title: string; source: string; detailTypes: readonly string[] },
): JsonObject {
  const { $schema: _schema, definitions, $defs, ...detailBody } = detail;
  const hoisted = { ...(isObject(definitions) ? definitions : {}), ...(isObject($defs) ? $defs : {}) };
  const stringType = { type: 'string' };
  return {
    $schema: 'http://json-schema.org/draft-04/schema#',
    title: options.title,
    type: 'object',
    required: ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'],
    properties: {
      version: stringType,
      id: stringType,
      'detail-type': { type: 'string', enum: [...options.detailTypes] },
      source: { type: 'string', enum: [options.source] },
      account: stringType,
      time: { type: 'string', format: 'date-time' },
      region: stringType,
      resources: { type: 'array', items: stringType },
      detail: detailBody,
    },
    ...(Object.keys(hoisted).length > 0 ? { definitions: hoisted } : {}),
  };
}

function detailToDraft4(schema: z.ZodType): JsonObject {
  return z.toJSONSchema(schema, { target: 'draft-4', io: 'output' }) as JsonObject;
}

/**
 * Reads a committed schema file when present (an envelope, or a bare detail schema that is wrapped), else
 * generates the document from the zod contract. The `source` is always set to the configured one.
 */
function schemaDocument(
  repoRoot: string,
  file: string,
  options: { title: string; source: string; detailTypes: readonly string[]; detail: z.ZodType },
): { document: JsonObject; origin: EventSchemaDocument['origin'] } {
  const path = resolve(repoRoot, file);
  if (!existsSync(path)) {
    return { document: wrapAsEventSchema(detailToDraft4(options.detail), options), origin: 'generated' };
  }
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isObject(parsed)) throw new Error(`${file} is not a JSON Schema object`);
  const properties = parsed.properties;
  if (!(isObject(properties) && isObject(properties.detail))) {
    return { document: wrapAsEventSchema(parsed, options), origin: 'file' };
  }
  return {
    document: {
      ...parsed,
      $schema: 'http://json-schema.org/draft-04/schema#',
      properties: { ...properties, source: { type: 'string', enum: [options.source] } },
    },
    origin: 'file',
  };
}

/** The change-event document (Customer Created / Updated / Deleted / Snapshot). */
export function customerChangeEventSchema(source: string, repoRoot: string): EventSchemaDocument {
  const detailTypes = Object.values(DETAIL_TYPES);
  const { document, origin } = schemaDocument(repoRoot, CHANGE_EVENT_SCHEMA_FILE, {
    title: 'CustomerChange',
    source,
    detailTypes,
    detail: customerChangeDetailSchema,
  });
  return {
    name: `${source}@CustomerChange`,
    description: `${detailTypes.join(' / ')} events published by nutcache-cdc`,
    content: JSON.stringify(document),
    origin,
  };
}

/** The mass-deletion anomaly event document. */
export function anomalyEventSchema(source: string, repoRoot: string): EventSchemaDocument {
  return singleTypeDocument(repoRoot, ANOMALY_EVENT_SCHEMA_FILE, {
    title: 'CustomerSyncAnomaly',
    source,
    detailType: ANOMALY_DETAIL_TYPE,
    detail: anomalyDetailSchema,
    description: `${ANOMALY_DETAIL_TYPE} events (deletions held back by the mass-deletion guard)`,
  });
}

/** The Organization Stale event document (an organization without a successful poll for too long). */
export function organizationStaleEventSchema(source: string, repoRoot: string): EventSchemaDocument {
  return singleTypeDocument(repoRoot, ORGANIZATION_STALE_EVENT_SCHEMA_FILE, {
    title: 'OrganizationStale',
    source,
    detailType: ORGANIZATION_STALE_DETAIL_TYPE,
    detail: organizationStaleDetailSchema,
    description: `${ORGANIZATION_STALE_DETAIL_TYPE} events (an organization without a successful poll for too long)`,
  });
}

function singleTypeDocument(
  repoRoot: string,
  file: string,
  options: { title: string; source: string; detailType: string; detail: z.ZodType; description: string },
): EventSchemaDocument {
  const { title, source, detailType, detail, description } = options;
  const { document, origin } = schemaDocument(repoRoot, file, {
    title,
    source,
    detailTypes: [detailType],
    detail,
  });
  return { name: `${source}@${title}`, description, content: JSON.stringify(document), origin };
}
