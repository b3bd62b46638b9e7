/** The state of one running sandbox: organizations, users, tokens, faults, limiter, settings, counters, log. */

import {
  DEFAULT_ORGANIZATION_GUID,
  DEFAULT_TOKEN_EXPIRES_IN,
  DEMO_CREDENTIALS,
  type RequestLogEntry,
  type SandboxClock,
  type SandboxCredentials,
  type SandboxOptions,
} from './api.ts';
import {
  CustomerStore,
  documentedCustomers,
  FIRST_GENERATED_ID,
  generateCustomers,
  SEED_ORGANIZATION_ID,
  seededRandom,
} from './data.ts';
import { FaultRegistry, type KeyCasing } from './faults.ts';
import { asError } from './http.ts';
import { SlidingWindowLimiter } from './rate-limit.ts';

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_LOG = 100_000;

export interface Organization {
  readonly guid: string;
  readonly id: number;
  readonly name: string;
  readonly store: CustomerStore;
}

export interface IssuedToken {
  readonly apiKey: string;
  expiresAt: number;
  revoked: boolean;
}

export interface Counters {
  requests: number;
  byPath: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimitViolations: number;
  throttled: number;
  tokensIssued: number;
  faultsFired: number;
  oversizedBytesSent: number;
}

/** Settings a test may change while the sandbox runs. */
export interface Settings {
  keyCasing: KeyCasing;
  latencyMs: number;
  tokenExpiresIn: number;
}

export interface SandboxState {
  readonly options: SandboxOptions;
  readonly clock: SandboxClock;
  readonly users: readonly SandboxCredentials[];
  readonly organizations: readonly Organization[];
  readonly primary: Organization;
  readonly limiter: SlidingWindowLimiter;
  readonly faults: FaultRegistry;
  readonly settings: Settings;
  readonly tokens: Map<string, IssuedToken>;
  readonly errors: Error[];
  readonly counters: Counters;
  readonly timers: Set<NodeJS.Timeout>;
  log: RequestLogEntry[];
}

function normaliseCredentials(input: SandboxOptions['credentials']): SandboxCredentials[] {
  if (Array.isArray(input)) {
    if (input.length === 0) throw new Error('credentials: at least one user is needed');
    return input.map((c: SandboxCredentials) => ({ ...c }));
  }
  const partial = (input ?? {}) as Partial<SandboxCredentials>;
  return [{ ...DEMO_CREDENTIALS, ...partial }];
}

/** The organizations of the options: the first holds the seed data, the others start empty. */
function createOrganizations(options: SandboxOptions): Organization[] {
  const seed = options.seed ?? 1;
  const generatedCount = options.generated ?? 0;
  if (!(Number.isInteger(generatedCount) && generatedCount >= 0)) {
    throw new Error(`generated must be a non-negative integer, got ${generatedCount}`);
  }
  const guids = options.organizationGuids ?? [options.organizationGuid ?? DEFAULT_ORGANIZATION_GUID];
  if (guids.length === 0) throw new Error('at least one organization is needed');
  return guids.map((guid, i) => {
    if (!GUID.test(guid)) throw new Error(`organization GUID is malformed: ${guid}`);
    const id = SEED_ORGANIZATION_ID + i;
    const initial =
      i === 0
        ? [
            ...(options.documented === false ? [] : documentedCustomers()),
            ...generateCustomers(generatedCount, seed, id, FIRST_GENERATED_ID),
          ]
        : [];
    return {
      guid,
      id,
      name: i === 0 ? 'Sample organization' : `Organization ${id}`,
      store: new CustomerStore(id, initial),
    };
  });
}

function zeroCounters(): Counters {
  return {
    requests: 0,
    byPath: {},
    byStatus: {},
    rateLimitViolations: 0,
    throttled: 0,
    tokensIssued: 0,
    faultsFired: 0,
    oversizedBytesSent: 0,
  };
}

export function createState(options: SandboxOptions): SandboxState {
  const users = normaliseCredentials(options.credentials);
  const organizations = createOrganizations(options);
  const primary = organizations[0];
  if (!primary) throw new Error('at least one organization is needed');
  return {
    options,
    clock: options.clock ?? { now: () => Date.now() },
    users,
    organizations,
    primary,
    limiter: new SlidingWindowLimiter(options.rateLimit === undefined ? {} : options.rateLimit),
    faults: new FaultRegistry(seededRandom((options.seed ?? 1) ^ 0x5eed)),
    settings: {
      keyCasing: options.keyCasing ?? 'documented',
      latencyMs: options.latencyMs ?? 0,
      tokenExpiresIn: options.tokenExpiresIn ?? DEFAULT_TOKEN_EXPIRES_IN,
    },
    tokens: new Map(),
    errors: [],
    counters: zeroCounters(),
    timers: new Set(),
    log: [],
  };
}

export function findOrganization(state: SandboxState, guid: string): Organization | undefined {
  return state.organizations.find((o) => o.guid.toLowerCase() === guid.toLowerCase());
}

/** Zeroes the statistics, the limiter's peaks and the request log. */
export function resetCounters(state: SandboxState): void {
  Object.assign(state.counters, zeroCounters());
  state.limiter.resetPeaks();
  state.log = [];
}

/** Waits `ms` on a timer that `close` cancels. */
export function sleep(state: SandboxState, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      state.timers.delete(t);
      resolve();
    }, ms);
    state.timers.add(t);
  });
}

export function recordError(state: SandboxState, error: unknown): void {
  state.errors.push(asError(error));
}

/** Appends to the request log, halving it when it outgrows its bound. */
export function appendLog(state: SandboxState, entry: RequestLogEntry): void {
  state.log.push(entry);
  if (state.log.length > MAX_LOG) state.log = state.log.slice(state.log.length - MAX_LOG / 2);
}
