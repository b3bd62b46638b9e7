/**
 * The scale scenario's organizations: how many customers each holds and which API key it shares, drawn
 * from a seeded generator so every run of the same parameters yields the same workload.
 *
 * - Sizes are log-uniform between `minCustomers` and `maxCustomers` (10 and 20,000 by default):
 *   `customers = min × (max / min)^u`, u uniform in [0, 1). Most organizations are small (median ≈ 450
 *   customers, 5 pages), a few are large (one in ten above ≈ 10,000 customers).
 * - Keys: every key gets one organization, the rest are spread with weight `1 / sqrt(rank)` (a mild
 *   Zipf law): some keys are agencies with a couple of hundred organizations, most hold a handful.
 */
import { seededRandom } from '../../shared/util/random.ts';

export interface WorkloadOptions {
  readonly organizations: number;
  readonly apiKeys: number;
  readonly minCustomers: number;
  readonly maxCustomers: number;
  readonly seed: number;
}

export interface SimOrganization {
  /** Upper-case GUID-like id (deterministic). */
  readonly organizationGuid: string;
  readonly customers: number;
  /** Index of its API key (0-based); the key's group name is `apiKeyGroup(index)`. */
  readonly key: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  organizations: 10_000,
  apiKeys: 500,
  minCustomers: 10,
  maxCustomers: 20_000,
  seed: 10,
};

export function apiKeyGroup(key: number): string {
  return `key-${String(key).padStart(4, '0')}`;
}

function guid(n: number): string {
  const hex = n.toString(16).toUpperCase().padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

/** Keys of the organizations, in organization order: one each, then weighted by 1/sqrt(rank). */
function keyAssignment(options: WorkloadOptions, random: () => number): number[] {
  const { organizations, apiKeys } = options;
  if (apiKeys < 1 || organizations < apiKeys) {
    throw new RangeError(`need at least one organization per key: ${organizations} over ${apiKeys}`);
  }
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 0; k < apiKeys; k++) {
    total += 1 / Math.sqrt(k + 1);
    cumulative.push(total);
  }
  const keys: number[] = [];
  for (let k = 0; k < apiKeys; k++) keys.push(k);
  for (let i = apiKeys; i < organizations; i++) {
    const target = random() * total;
    let lo = 0;
    let hi = apiKeys - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    keys.push(lo);
  }
  return keys;
}

/** The scenario's organizations (seeded: the same options give the same list). */
export function generateWorkload(options: WorkloadOptions = DEFAULT_WORKLOAD): SimOrganization[] {
  const random = seededRandom(options.seed);
  const keys = keyAssignment(options, random);
  const ratio = options.maxCustomers / options.minCustomers;
  return keys.map((key, i) => ({
    organizationGuid: guid(i + 1),
    customers: Math.round(options.minCustomers * ratio ** random()),
    key,
  }));
}

/** The organizations grouped by key index. */
export function byKey(orgs: readonly SimOrganization[]): Map<number, SimOrganization[]> {
  const groups = new Map<number, SimOrganization[]>();
  for (const org of orgs) {
    const members = groups.get(org.key) ?? [];
    members.push(org);
    groups.set(org.key, members);
  }
  return groups;
}
