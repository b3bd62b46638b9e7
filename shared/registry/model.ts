/**
 * An organization registered for polling: the registry's item (see docs/organizations.md). Organizations
 * are data, not stack resources: adding one is a registry write plus one Scheduler schedule.
 */
import { z } from 'zod';
import { apiKeyId } from '../quota/budget.ts';

/** A Nutcache organization GUID (8-4-4-4-12 hex digits). */
export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * An API-key group: the SQS FIFO message group of the organization's polls and the key of the rate
 * limiter `poll --all` shares. SQS allows 1-128 characters; we keep to letters, digits, `-` and `_`.
 */
export const API_KEY_GROUP_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Shortest and longest poll interval (minutes); Scheduler's rate() needs a whole number ≥ 1. */
export const MIN_EVERY_MINUTES = 1;
export const MAX_EVERY_MINUTES = 24 * 60;
export const DEFAULT_EVERY_MINUTES = 15;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}

/** The canonical (upper-case) form of a GUID; throws a one-line error for anything else. */
export function normalizeGuid(value: string): string {
  if (!isGuid(value)) {
    throw new RangeError(`'${value}' is not an organization GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  }
  return value.toUpperCase();
}

/** The default API-key group of a key: its derived id, so organizations sharing a key share a group. */
export function defaultApiKeyGroup(apiKey: string): string {
  return apiKeyId(apiKey);
}

export const organizationGuidSchema = z
  .string()
  .regex(GUID_PATTERN, 'must be an organization GUID')
  .transform((guid) => guid.toUpperCase());

export const credentialsRefSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('secretsManager'), secretArn: z.string().min(1) }),
  z.object({ kind: z.literal('localFile') }),
]);
export type CredentialsRef = z.infer<typeof credentialsRefSchema>;

export const everyMinutesSchema = z.number().int().min(MIN_EVERY_MINUTES).max(MAX_EVERY_MINUTES);

export const registeredOrganizationSchema = z.object({
  organizationGuid: organizationGuidSchema,
  label: z.string().min(1).max(200).optional(),
  credentials: credentialsRefSchema,
  everyMinutes: everyMinutesSchema,
  apiKeyGroup: z.string().regex(API_KEY_GROUP_PATTERN, 'must be 1-128 letters, digits, - or _'),
  /** The derived id of the organization's API key (`apiKeyId`, never the key): its daily budget counter. */
  apiKeyId: z
    .string()
    .regex(/^k-[0-9a-f]{32}$/)
    .optional(),
  baseUrl: z.url().optional(),
  initialEvents: z.enum(['snapshot', 'none']).optional(),
  state: z.enum(['active', 'paused']),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  managedBy: z.enum(['cli', 'config']),
  createdSecret: z.boolean().optional(),
});
export type RegisteredOrganization = z.infer<typeof registeredOrganizationSchema>;

/** The fields `update` may change (never the GUID, the creation time or who manages it). */
export const organizationPatchSchema = registeredOrganizationSchema
  .pick({
    label: true,
    credentials: true,
    everyMinutes: true,
    apiKeyGroup: true,
    apiKeyId: true,
    baseUrl: true,
    initialEvents: true,
    state: true,
    createdSecret: true,
  })
  .partial();
export type OrganizationPatch = z.infer<typeof organizationPatchSchema>;

/** Parses `value` with `schema`, or throws one line naming `where`, what it should be and the fields at fault. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where: string, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${where} is not ${what}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Parses a registry item, with a one-line error naming the organization and the fields at fault. */
export function parseRegisteredOrganization(value: unknown, where: string): RegisteredOrganization {
  return parseOrThrow(registeredOrganizationSchema, value, where, 'a registered organization');
}
