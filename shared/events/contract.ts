/**
 * The public event contract: what consumers of the event bus receive. Documented in docs/events.md; the
 * JSON Schema in schema/ is generated from these zod schemas (`npm run schema`) and checked by a test.
 */
import { z } from 'zod';
import { type CanonicalCustomer, jsonValueSchema } from '../customer.ts';

export const SCHEMA_VERSION = '1.0';
export const DEFAULT_EVENT_SOURCE = 'nutcache.customers';

export const DETAIL_TYPES = {
  created: 'Customer Created',
  updated: 'Customer Updated',
  deleted: 'Customer Deleted',
  snapshot: 'Customer Snapshot',
} as const;
export const ANOMALY_DETAIL_TYPE = 'Customer Sync Anomaly';
/** An organization without a successful poll for too long (docs/events.md, "Organization Stale"). */
export const ORGANIZATION_STALE_DETAIL_TYPE = 'Organization Stale';

export type ChangeType = keyof typeof DETAIL_TYPES;
export type CustomerDetailType = (typeof DETAIL_TYPES)[ChangeType];

const jsonValue = jsonValueSchema;

export const canonicalCustomerSchema = z
  .object({ id: z.number().int() })
  .catchall(jsonValue)
  .describe(
    'A Nutcache customer, normalised: snake_case lower-case keys, values exactly as Nutcache sent them.',
  );

export const fieldChangeSchema = z.object({ before: jsonValue.optional(), after: jsonValue.optional() });

export const customerChangeDetailSchema = z
  .object({
    eventId: z.string().min(1).describe('Stable id: a re-delivery of the same change carries the same id.'),
    schemaVersion: z.literal(SCHEMA_VERSION),
    organizationGuid: z.string().min(1),
    customerId: z.number().int(),
    changeType: z.enum(['created', 'updated', 'deleted', 'snapshot']),
    changedFields: z.array(z.string()),
    changes: z.record(z.string(), fieldChangeSchema).optional(),
    before: canonicalCustomerSchema.nullable(),
    after: canonicalCustomerSchema.nullable(),
    sequence: z.number().int().positive().describe('Strictly increasing per customer over time.'),
    observedAt: z.iso.datetime({ offset: true }),
    pollId: z.string().min(1),
    truncated: z
      .boolean()
      .optional()
      .describe('True when before/after were left out because the event exceeded the bus size limit.'),
  })
  .describe('The detail of a Customer Created / Updated / Deleted / Snapshot event.');

export type CustomerChangeDetail = Omit<z.infer<typeof customerChangeDetailSchema>, 'before' | 'after'> & {
  before: CanonicalCustomer | null;
  after: CanonicalCustomer | null;
};

export const anomalyDetailSchema = z.object({
  eventId: z.string().min(1),
  schemaVersion: z.literal(SCHEMA_VERSION),
  organizationGuid: z.string().min(1),
  anomaly: z.literal('mass-deletion'),
  heldDeletions: z.number().int().nonnegative(),
  knownCustomers: z.number().int().nonnegative(),
  sampleCustomerIds: z.array(z.number().int()),
  observedAt: z.iso.datetime({ offset: true }),
  pollId: z.string().min(1),
  message: z.string(),
});
export type AnomalyDetail = z.infer<typeof anomalyDetailSchema>;

export const organizationStaleDetailSchema = z
  .object({
    eventId: z
      .string()
      .min(1)
      .describe(
        'Stable per organization and stale episode (from its last success): every reminder of one episode carries the same id.',
      ),
    schemaVersion: z.literal(SCHEMA_VERSION),
    organizationGuid: z.string().min(1),
    label: z.string().optional().describe('The label the organization was registered with, when it has one.'),
    anomaly: z.literal('organization-stale'),
    lastSuccessAt: z.iso
      .datetime({ offset: true })
      .nullable()
      .describe('The last successful poll; null when the organization was never polled successfully.'),
    staleSince: z.iso
      .datetime({ offset: true })
      .describe('The last success, or the registration when there was none: where the episode starts.'),
    staleMinutes: z.number().int().nonnegative(),
    everyMinutes: z.number().int().positive().describe('The expected interval between polls.'),
    missedIntervals: z.number().int().nonnegative().describe('Whole intervals since staleSince.'),
    outcome: z.string().min(1).describe('The outcome of the poll that found the organization stale.'),
    observedAt: z.iso.datetime({ offset: true }),
    message: z.string(),
  })
  .describe('The detail of an Organization Stale event.');
export type OrganizationStaleDetail = z.infer<typeof organizationStaleDetailSchema>;

/** An event as handed to the bus (the shape of a PutEvents entry, with the detail still an object). */
export interface BusEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: CustomerChangeDetail | AnomalyDetail | OrganizationStaleDetail;
  /** ISO time of the change's observation (the EventBridge `time`). */
  readonly time: string;
  readonly resources?: readonly string[];
}

/** The EventBridge event as a rule target receives it (what the local JSON-lines sink writes). */
export const eventBridgeEventSchema = z.object({
  version: z.string(),
  id: z.string(),
  'detail-type': z.string(),
  source: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});
export type EventBridgeEvent = z.infer<typeof eventBridgeEventSchema>;
