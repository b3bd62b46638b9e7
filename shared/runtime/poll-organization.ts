/**
 * One poll of one registered organization, as the poller Lambda runs it: read that organization's secret
 * (and no other), skip the poll quietly while the secret is not filled in, otherwise hand over to the
 * poller service (which reads the secret again after a 401).
 *
 * Outcomes, each with one per-poll metric (the handler adds the `organizationGuid` dimension):
 * - `unconfigured`: the secret's apiKey, username and password are all empty or missing, as the stack
 *   creates it. One warning line saying which secret to fill and how, `PollUnconfigured` = 1, and a
 *   normal return: no Lambda error, so no retry, no failure queue, no failure alarm.
 * - the secret cannot be read (missing, access denied, KMS), or is malformed or partly filled: one error
 *   line, `PollFailed` = 1, and the error is thrown (a failed invocation of this organization only).
 * - otherwise the engine's outcome (`success`, `held`, `partial`, `deadline`, `busy`, `deferred`, `failed`).
 */
import type { PollOptions, PollResult } from '../engine/poll.ts';
import { CREDENTIAL_FIELDS, InvalidSecretError, type NutcacheSecret } from '../nutcache/secret.ts';
import type { OrganizationSecrets } from './organization-secrets.ts';
import { type PollerServiceDeps, pollWithCredentials } from './poller-service.ts';

export const POLL_UNCONFIGURED_METRIC = 'PollUnconfigured';
/** A poll request for a paused organization (a message queued before the pause). */
export const POLL_SKIPPED_METRIC = 'PollSkipped';

export interface OrganizationPollDeps extends Omit<PollerServiceDeps, 'getSecret' | 'canRefreshSecret'> {
  readonly secrets: Pick<OrganizationSecrets, 'read'>;
}

export interface PollSummary {
  readonly organizationGuid: string;
  readonly pollId: string;
  readonly outcome: PollResult['outcome'] | 'unconfigured' | 'skipped';
  readonly counts: Record<string, number>;
  readonly nutcacheRequests: number;
  readonly durationMs: number;
  readonly error?: string;
}

/** The organization a poll is for, and where its credentials are. */
export interface OrganizationToPoll {
  readonly organizationGuid: string;
  readonly secretArn: string;
}

export async function pollOrganization(
  deps: OrganizationPollDeps,
  organization: OrganizationToPoll,
  options: PollOptions,
): Promise<PollSummary> {
  const { secretArn } = organization;
  const first = await readOrFail(deps, organization);
  if (first === undefined) return unconfigured(deps, organization, options);
  const result = await pollWithCredentials(
    {
      ...deps,
      getSecret: async (fresh) =>
        fresh ? configured(await deps.secrets.read(secretArn, { fresh }), secretArn) : first,
    },
    options,
  );
  return {
    organizationGuid: result.organizationGuid,
    pollId: result.pollId,
    outcome: result.outcome,
    counts: { ...result.counts },
    nutcacheRequests: result.nutcacheRequests,
    durationMs: result.durationMs,
    ...(result.error !== undefined ? { error: result.error } : {}),
  };
}

/** The credentials, or undefined while the secret is not filled in; a failure is counted and thrown. */
async function readOrFail(
  deps: OrganizationPollDeps,
  organization: OrganizationToPoll,
): Promise<NutcacheSecret | undefined> {
  try {
    const reading = await deps.secrets.read(organization.secretArn);
    return reading.state === 'configured' ? reading.secret : undefined;
  } catch (error) {
    deps.metrics.count('PollFailed');
    deps.log.error(`poll failed: ${(error as Error).message}`, {
      organizationGuid: organization.organizationGuid,
    });
    throw error;
  }
}

function configured(
  reading: Awaited<ReturnType<OrganizationSecrets['read']>>,
  secretArn: string,
): NutcacheSecret {
  if (reading.state === 'configured') return reading.secret;
  throw new InvalidSecretError(secretArn, `${CREDENTIAL_FIELDS.join(', ')} have been emptied`);
}

function unconfigured(
  deps: OrganizationPollDeps,
  organization: OrganizationToPoll,
  options: PollOptions,
): PollSummary {
  deps.metrics.count(POLL_UNCONFIGURED_METRIC);
  deps.log.warn(
    `poll skipped: the Nutcache credentials are not set yet; put apiKey, username, password and organizationGuid in secret ${organization.secretArn} with aws secretsmanager put-secret-value (docs/deploy.md); the next poll uses them`,
    { organizationGuid: organization.organizationGuid },
  );
  return {
    organizationGuid: organization.organizationGuid,
    pollId: options.pollId ?? '',
    outcome: 'unconfigured',
    counts: {},
    nutcacheRequests: 0,
    durationMs: 0,
  };
}

/**
 * A poll request that is not polled: an organization that is not registered (`unconfigured`) or paused
 * (`skipped`). One log line and one metric; no secret is read and Nutcache is not called.
 */
export function notPolled(
  deps: Pick<OrganizationPollDeps, 'log' | 'metrics'>,
  why: { readonly outcome: 'unconfigured' | 'skipped'; readonly reason: string },
  organizationGuid: string,
  options: Pick<PollOptions, 'pollId'>,
): PollSummary {
  deps.metrics.count(why.outcome === 'skipped' ? POLL_SKIPPED_METRIC : POLL_UNCONFIGURED_METRIC);
  deps.log.warn(`poll skipped: ${why.reason}`, { organizationGuid });
  return {
    organizationGuid,
    pollId: options.pollId ?? '',
    outcome: why.outcome,
    counts: {},
    nutcacheRequests: 0,
    durationMs: 0,
  };
}
