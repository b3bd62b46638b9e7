/**
 * Writes the event contract's JSON Schemas (Draft 4, as the EventBridge schema registry takes them) from
 * the zod schemas in shared/events/contract.ts. `npm run schema` regenerates; a test fails when the
 * committed files and the contract disagree.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { wrapAsEventSchema } from '../infra/event-schemas.ts';
import {
  ANOMALY_DETAIL_TYPE,
  anomalyDetailSchema,
  customerChangeDetailSchema,
  DEFAULT_EVENT_SOURCE,
  DETAIL_TYPES,
  ORGANIZATION_STALE_DETAIL_TYPE,
  organizationStaleDetailSchema,
} from '../shared/events/contract.ts';

type JsonObject = { [key: string]: unknown };

export const SCHEMA_FILES = {
  change: 'schema/customer-change-event.schema.json',
  anomaly: 'schema/customer-sync-anomaly-event.schema.json',
  organizationStale: 'schema/organization-stale-event.schema.json',
} as const;

function draft4(schema: z.ZodType): JsonObject {
  return z.toJSONSchema(schema, { target: 'draft-4', io: 'output' }) as JsonObject;
}

/** The schema documents as they must be committed (text, with a trailing newline). */
export function generatedSchemas(): Record<keyof typeof SCHEMA_FILES, string> {
  const change = wrapAsEventSchema(draft4(customerChangeDetailSchema), {
    title: 'CustomerChange',
    source: DEFAULT_EVENT_SOURCE,
    detailTypes: Object.values(DETAIL_TYPES),
  });
  const anomaly = wrapAsEventSchema(draft4(anomalyDetailSchema), {
    title: 'CustomerSyncAnomaly',
    source: DEFAULT_EVENT_SOURCE,
    detailTypes: [ANOMALY_DETAIL_TYPE],
  });
  const organizationStale = wrapAsEventSchema(draft4(organizationStaleDetailSchema), {
    title: 'OrganizationStale',
    source: DEFAULT_EVENT_SOURCE,
    detailTypes: [ORGANIZATION_STALE_DETAIL_TYPE],
  });
  return {
    change: `${JSON.stringify(change, null, 2)}\n`,
    anomaly: `${JSON.stringify(anomaly, null, 2)}\n`,
    organizationStale: `${JSON.stringify(organizationStale, null, 2)}\n`,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const schemas = generatedSchemas();
  for (const key of Object.keys(SCHEMA_FILES) as (keyof typeof SCHEMA_FILES)[]) {
    writeFileSync(SCHEMA_FILES[key], schemas[key]);
    process.stdout.write(`wrote ${SCHEMA_FILES[key]}\n`);
  }
}
