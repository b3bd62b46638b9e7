/**
 * The rows of `nutcache-cdc orgs list`: each registered organization with its state, interval, last poll,
 * last success, staleness and its API key's daily budget use today.
 */
import { DEFAULT_DAILY_BUDGET, utcDay } from '../../shared/quota/budget.ts';
import type { RegisteredOrganization } from '../../shared/registry/model.ts';
import { DEFAULT_STALE_AFTER_INTERVALS, isStale } from '../../shared/runtime/organization-staleness.ts';
import type { OrgsContext } from './orgs-context.ts';

export interface OrganizationRow {
  readonly organizationGuid: string;
  readonly label?: string;
  readonly state: RegisteredOrganization['state'];
  readonly everyMinutes: number;
  readonly apiKeyGroup: string;
  readonly managedBy: RegisteredOrganization['managedBy'];
  readonly credentials: RegisteredOrganization['credentials']['kind'];
  readonly lastPollAt?: string;
  readonly lastOutcome?: string;
  readonly lastSuccessAt?: string;
  /** Whole minutes since the last success (or since registration when it never succeeded). */
  readonly minutesSinceSuccess: number;
  readonly stale: boolean;
  /** Nutcache requests counted today (UTC) for the organization's API key, when the key is known. */
  readonly budgetUsedToday?: number;
  readonly dailyBudget: number;
}

export async function organizationRow(
  context: OrgsContext,
  org: RegisteredOrganization,
  now: number,
): Promise<OrganizationRow> {
  const [state, runs] = await Promise.all([
    context.store.getOrgState(org.organizationGuid),
    context.store.listRunRecords(org.organizationGuid, 1),
  ]);
  const last = runs[0];
  const since = Date.parse(state?.lastSuccessAt ?? org.createdAt);
  const minutesSinceSuccess = Math.max(0, Math.floor((now - since) / 60_000));
  const used = org.apiKeyId ? await context.quota.used(org.apiKeyId, utcDay(now)) : undefined;
  return {
    organizationGuid: org.organizationGuid,
    ...(org.label ? { label: org.label } : {}),
    state: org.state,
    everyMinutes: org.everyMinutes,
    apiKeyGroup: org.apiKeyGroup,
    managedBy: org.managedBy,
    credentials: org.credentials.kind,
    ...(last ? { lastPollAt: last.finishedAt, lastOutcome: last.outcome } : {}),
    ...(state?.lastSuccessAt ? { lastSuccessAt: state.lastSuccessAt } : {}),
    minutesSinceSuccess,
    stale: org.state === 'active' && isStale(minutesSinceSuccess, org.everyMinutes),
    ...(used !== undefined ? { budgetUsedToday: used } : {}),
    dailyBudget: DEFAULT_DAILY_BUDGET,
  };
}

const HEADER = ['GUID', 'LABEL', 'STATE', 'EVERY', 'LAST POLL', 'LAST SUCCESS', 'STALE', 'BUDGET'];

function cells(row: OrganizationRow): string[] {
  const lastPoll = row.lastPollAt ? `${row.lastPollAt.slice(0, 19)}Z ${row.lastOutcome ?? ''}` : 'never';
  const budget =
    row.budgetUsedToday !== undefined
      ? `${row.budgetUsedToday}/${row.dailyBudget} (${Math.round((100 * row.budgetUsedToday) / row.dailyBudget)}%)`
      : '-';
  return [
    row.organizationGuid,
    row.label ?? '-',
    row.state,
    `${row.everyMinutes} min`,
    lastPoll,
    row.lastSuccessAt ? `${row.lastSuccessAt.slice(0, 19)}Z` : 'never',
    row.stale ? `STALE ${row.minutesSinceSuccess} min` : 'no',
    budget,
  ];
}

/** The rows as an aligned text table. */
export function formatRows(rows: readonly OrganizationRow[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  return table
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One line naming the stale organizations (label and GUID), or undefined when none is stale. */
export function staleSummary(rows: readonly OrganizationRow[]): string | undefined {
  const stale = rows.filter((row) => row.stale);
  if (stale.length === 0) return undefined;
  const names = stale.map((row) =>
    row.label ? `${row.label} (${row.organizationGuid})` : row.organizationGuid,
  );
  return `${stale.length} of ${rows.length} organizations ${stale.length === 1 ? 'is' : 'are'} stale (no successful poll for ${DEFAULT_STALE_AFTER_INTERVALS} of their intervals): ${names.join(', ')}`;
}
