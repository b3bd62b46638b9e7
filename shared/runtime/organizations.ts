/**
 * The organizations a deployed poller may poll, from the ORGANIZATIONS environment variable that the CDK
 * stack sets (see shared/config/env.ts).
 */
import { z } from 'zod';
import type { PollerInput } from '../config/env.ts';

export const organizationConfigSchema = z.object({
  organizationGuid: z.string().min(1),
  secretArn: z.string().min(1),
  initialEvents: z.enum(['snapshot', 'none']).optional(),
  /** The schedule's rate: polls back off from it under 429s or a low budget, and return to it. */
  scheduleRateMinutes: z.number().int().min(1).optional(),
  /** This organization's share of its API key's request rate (several organizations may share a key). */
  rateLimit: z.object({ perSecond: z.number().int().min(1), perMinute: z.number().int().min(1) }).optional(),
});
export type OrganizationConfig = z.infer<typeof organizationConfigSchema>;

export function parseOrganizationsEnv(raw: string | undefined): OrganizationConfig[] {
  if (!raw)
    throw new Error('ORGANIZATIONS is not set: the poller does not know which organizations it may poll');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error('ORGANIZATIONS is not valid JSON');
  }
  const parsed = z.array(organizationConfigSchema).min(1).safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `ORGANIZATIONS is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export const pollerInputSchema = z.object({
  organizationGuid: z.string().min(1),
  mode: z.enum(['poll', 'resync']).optional(),
  allowMassDeletion: z.boolean().optional(),
  pollId: z.string().min(1).max(128).optional(),
});

/** Parses the poller's input: the object itself, or an EventBridge event whose `detail` carries it. */
export function parsePollerInput(event: unknown): PollerInput {
  const candidate =
    event !== null && typeof event === 'object' && 'detail' in event && !('organizationGuid' in event)
      ? (event as { detail: unknown }).detail
      : event;
  const parsed = pollerInputSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new Error(
      `invalid poller input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}; expected {"organizationGuid": "…", "mode"?: "poll"|"resync"}`,
    );
  }
  return parsed.data;
}

export function findOrganization(
  organizations: readonly OrganizationConfig[],
  guid: string,
): OrganizationConfig | undefined {
  const wanted = guid.toUpperCase();
  return organizations.find((o) => o.organizationGuid.toUpperCase() === wanted);
}
