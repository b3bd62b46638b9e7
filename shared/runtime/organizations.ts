/**
 * What the deployed poller is asked to poll, and whether it may: the poll requests of an invocation (one SQS
 * record of the poll queue, or a direct invocation with the request itself) and the organization each names,
 * looked up in the registry (shared/registry) at the start of every poll. An organization that is not
 * registered, paused, or whose credentials are not in Secrets Manager is not polled: a message already
 * queued never polls a paused organization.
 */
import { z } from 'zod';
import type { PollerInput } from '../config/env.ts';
import { isGuid, type RegisteredOrganization } from '../registry/model.ts';
import type { OrganizationRegistry } from '../registry/port.ts';

export const pollerInputSchema = z.object({
  organizationGuid: z.string().min(1),
  mode: z.enum(['poll', 'resync']).optional(),
  allowMassDeletion: z.boolean().optional(),
  pollId: z.string().min(1).max(128).optional(),
});

function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Parses the poller's input: the object itself, or an EventBridge event whose `detail` carries it. */
export function parsePollerInput(event: unknown): PollerInput {
  const candidate =
    event !== null && typeof event === 'object' && 'detail' in event && !('organizationGuid' in event)
      ? (event as { detail: unknown }).detail
      : event;
  const parsed = pollerInputSchema.safeParse(candidate);
  if (!parsed.success) {
    throw new Error(
      `invalid poller input: ${issuesOf(parsed.error)}; expected {"organizationGuid": "…", "mode"?: "poll"|"resync"}`,
    );
  }
  return parsed.data;
}

const sqsEventSchema = z.object({
  Records: z
    .array(z.object({ messageId: z.string().min(1), body: z.string(), eventSource: z.literal('aws:sqs') }))
    .min(1),
});

/** One poll request: from a poll-queue message (`messageId`) or from a direct invocation. */
export interface PollRequest {
  readonly messageId?: string;
  /** The request, or why the message is not one (it is then dropped: retrying cannot repair it). */
  readonly input: PollerInput | Error;
}

/** The poll requests of an invocation: one per SQS record (the poll queue), or the direct input itself. */
export function pollRequestsOf(event: unknown): PollRequest[] {
  const sqs = sqsEventSchema.safeParse(event);
  if (!sqs.success) return [{ input: parsePollerInput(event) }];
  return sqs.data.Records.map((record) => ({
    messageId: record.messageId,
    input: parseMessage(record.body),
  }));
}

function parseMessage(body: string): PollerInput | Error {
  try {
    return parsePollerInput(JSON.parse(body));
  } catch (error) {
    return error instanceof SyntaxError
      ? new Error('invalid poller input: the message is not JSON')
      : (error as Error);
  }
}

/** A registered, active organization the deployed poller can poll (its credentials in Secrets Manager). */
export interface PollableOrganization {
  readonly organization: RegisteredOrganization;
  readonly secretArn: string;
}

/** Why an organization is not polled: `unconfigured` (not registered, or no Secrets Manager credentials), `skipped` (paused). */
export interface NotPolled {
  readonly outcome: 'unconfigured' | 'skipped';
  readonly reason: string;
}

/** The organization as registered now, or why it is not polled. */
export async function pollableOrganization(
  registry: Pick<OrganizationRegistry, 'get'>,
  organizationGuid: string,
): Promise<PollableOrganization | NotPolled> {
  if (!isGuid(organizationGuid)) {
    return {
      outcome: 'unconfigured',
      reason: `'${organizationGuid.slice(0, 64)}' is not an organization GUID`,
    };
  }
  const organization = await registry.get(organizationGuid);
  if (!organization) {
    return { outcome: 'unconfigured', reason: `organization ${organizationGuid} is not registered` };
  }
  if (organization.state === 'paused') {
    return { outcome: 'skipped', reason: `organization ${organization.organizationGuid} is paused` };
  }
  if (organization.credentials.kind !== 'secretsManager') {
    return {
      outcome: 'unconfigured',
      reason: `organization ${organization.organizationGuid} keeps its credentials in a local file, which a deployed poller cannot read`,
    };
  }
  return { organization, secretArn: organization.credentials.secretArn };
}
