/**
 * Names a stale organization: one that had no successful poll for `staleAfterIntervals` of its intervals
 * (docs/organizations.md, "Monitoring at scale"). A poll that did not succeed and finds its organization
 * stale leaves:
 * - one `organization stale` log line (the dashboard's "top stale organizations" query reads them);
 * - one `OrganizationStale` count (the one stale-organizations alarm adds them up);
 * - one `Organization Stale` event on the bus (docs/events.md), whose `eventId` is the same for every
 *   reminder of one stale episode (an episode starts at the last success, or at the registration).
 *
 * Frequency: once per poll that finds the organization stale, that is about once per interval while the
 * episode lasts (one scheduled fire per interval). No state records that an episode was announced: a
 * reminder every interval survives a lost event and a consumer alerts once per episode by its `eventId`;
 * a retried poll message of a failed poll may repeat the reminder within the interval, with the same id.
 * A failure to publish is logged and does not fail the poll.
 */
import {
  DEFAULT_EVENT_SOURCE,
  ORGANIZATION_STALE_DETAIL_TYPE,
  type OrganizationStaleDetail,
  SCHEMA_VERSION,
} from '../events/contract.ts';
import type { Clock, EventBus, Log, MetricsSink, SnapshotStore } from '../ports.ts';
import type { RegisteredOrganization } from '../registry/model.ts';

export const ORGANIZATION_STALE_METRIC = 'OrganizationStale';
/** Intervals without a successful poll after which an organization is stale, unless configured. */
export const DEFAULT_STALE_AFTER_INTERVALS = 3;

/** Stale: no successful poll for `staleAfterIntervals` whole intervals (the poller and `orgs list` agree). */
export function isStale(
  minutesSinceSuccess: number,
  everyMinutes: number,
  staleAfterIntervals = DEFAULT_STALE_AFTER_INTERVALS,
): boolean {
  return minutesSinceSuccess >= everyMinutes * staleAfterIntervals;
}

export interface StalenessDeps {
  readonly store: Pick<SnapshotStore, 'getOrgState'>;
  readonly bus: EventBus;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Log;
  readonly metrics: MetricsSink;
  /** The event source (default `nutcache.customers`). */
  readonly source?: string;
  readonly staleAfterIntervals?: number;
}

export type StaleCandidate = Pick<
  RegisteredOrganization,
  'organizationGuid' | 'label' | 'everyMinutes' | 'createdAt'
>;

/** Checks the organization after a poll with this outcome; logs, counts and publishes when it is stale. */
export async function reportStaleness(
  deps: StalenessDeps,
  organization: StaleCandidate,
  outcome: string,
): Promise<void> {
  if (outcome === 'success') return;
  const state = await deps.store.getOrgState(organization.organizationGuid);
  const lastSuccessAt = state?.lastSuccessAt ?? null;
  const now = deps.clock.now();
  const detail = organizationStaleDetail(organization, { lastSuccessAt, outcome, now });
  if (!isStale(detail.staleMinutes, organization.everyMinutes, deps.staleAfterIntervals)) return;
  deps.metrics.count(ORGANIZATION_STALE_METRIC);
  deps.log.warn('organization stale', {
    organizationGuid: organization.organizationGuid,
    outcome,
    lastSuccessAt,
    staleMinutes: detail.staleMinutes,
  });
  await publish(deps, detail);
}

interface Observation {
  readonly lastSuccessAt: string | null;
  readonly outcome: string;
  readonly now: number;
}

/** The event's detail; `eventId` depends only on the organization and the episode's start. */
export function organizationStaleDetail(
  organization: StaleCandidate,
  { lastSuccessAt, outcome, now }: Observation,
): OrganizationStaleDetail {
  const guid = organization.organizationGuid.toUpperCase();
  const staleSince = lastSuccessAt ?? organization.createdAt;
  const staleMinutes = Math.max(0, Math.floor((now - Date.parse(staleSince)) / 60_000));
  const missedIntervals = Math.floor(staleMinutes / organization.everyMinutes);
  const name = organization.label ? `${organization.label} (${guid})` : guid;
  return {
    eventId: `organization-stale:${guid}:${new Date(staleSince).toISOString()}`,
    schemaVersion: SCHEMA_VERSION,
    organizationGuid: guid,
    ...(organization.label ? { label: organization.label } : {}),
    anomaly: 'organization-stale',
    lastSuccessAt,
    staleSince,
    staleMinutes,
    everyMinutes: organization.everyMinutes,
    missedIntervals,
    outcome,
    observedAt: new Date(now).toISOString(),
    message: `organization ${name} has had no successful poll for ${staleMinutes} minutes (${missedIntervals} intervals of ${organization.everyMinutes} minutes); last poll: ${outcome}`,
  };
}

async function publish(deps: StalenessDeps, detail: OrganizationStaleDetail): Promise<void> {
  const failure = await deps.bus
    .putEvents([
      {
        source: deps.source ?? DEFAULT_EVENT_SOURCE,
        detailType: ORGANIZATION_STALE_DETAIL_TYPE,
        detail: JSON.stringify(detail),
        time: new Date(detail.observedAt),
        resources: [],
      },
    ])
    .then(
      ([result]) => (result && !result.ok ? JSON.stringify(result) : undefined),
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
  if (failure !== undefined) {
    deps.log.error('the Organization Stale event could not be published', {
      organizationGuid: detail.organizationGuid,
      eventId: detail.eventId,
      failure,
    });
  }
}
