/** The programmatic control surface of a running sandbox: customers, tokens, statistics, settings. */
import {
  DEMO_CREDENTIALS,
  type Sandbox,
  type SandboxCustomers,
  type SandboxStats,
  type SandboxTokens,
} from './api.ts';
import type { KeyCasing } from './faults.ts';
import { findOrganization, type Organization, resetCounters, type SandboxState } from './state.ts';

/** The mutation API of one organization's customers. */
export function customersOf(o: Organization): SandboxCustomers {
  return {
    create: (input) => o.store.create(input),
    update: (id, patch) => o.store.update(id, patch),
    remove: (id) => o.store.remove(id),
    get: (id) => o.store.get(id),
    list: () => o.store.list(),
    reset: () => o.store.reset(),
    get size() {
      return o.store.size;
    },
  };
}

/** Control over the bearer tokens the sandbox issued. */
export function tokenControl(state: SandboxState): SandboxTokens {
  const { tokens, clock } = state;
  return {
    get issued() {
      return state.counters.tokensIssued;
    },
    get active() {
      const now = clock.now();
      return [...tokens.values()].filter((t) => !t.revoked && now < t.expiresAt).length;
    },
    revoke(token?: string): number {
      let n = 0;
      for (const [value, t] of tokens) {
        if ((token === undefined || token === value) && !t.revoked) {
          t.revoked = true;
          n++;
        }
      }
      return n;
    },
    expireAll(): void {
      const now = clock.now();
      for (const t of tokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
    },
    setExpiresIn(seconds: number): void {
      if (!(Number.isInteger(seconds) && seconds > 0))
        throw new Error('expires_in must be a positive integer');
      state.settings.tokenExpiresIn = seconds;
    },
  };
}

/** A snapshot of the request statistics. */
export function statsOf(state: SandboxState): SandboxStats {
  const { counters, limiter } = state;
  return {
    requests: counters.requests,
    byPath: { ...counters.byPath },
    byStatus: { ...counters.byStatus },
    rateLimitViolations: counters.rateLimitViolations,
    throttled: counters.throttled,
    peakPerSecond: limiter.peakPerSecond,
    peakPerMinute: limiter.peakPerMinute,
    tokensIssued: counters.tokensIssued,
    faultsFired: counters.faultsFired,
    oversizedBytesSent: counters.oversizedBytesSent,
  };
}

/** Where a running sandbox listens. */
export interface Endpoint {
  readonly url: string;
  readonly port: number;
  readonly host: string;
}

/** The `Sandbox` of a state listening at `endpoint`; `close` stops it. */
export function sandboxControl(
  state: SandboxState,
  endpoint: Endpoint,
  close: () => Promise<void>,
): Omit<Sandbox, 'crm'> {
  const { primary, organizations, faults, settings } = state;
  const primaryCustomers = customersOf(primary);
  return {
    ...endpoint,
    credentials: { ...(state.users[0] ?? DEMO_CREDENTIALS) },
    organizationGuid: primary.guid,
    organizationGuids: organizations.map((o) => o.guid),
    organization(guid: string): SandboxCustomers {
      const o = findOrganization(state, guid);
      if (!o) throw new Error(`no sandbox organization ${guid}`);
      return customersOf(o);
    },
    create: primaryCustomers.create,
    update: primaryCustomers.update,
    remove: primaryCustomers.remove,
    get: primaryCustomers.get,
    list: primaryCustomers.list,
    reset(): void {
      for (const o of organizations) o.store.reset();
    },
    get size() {
      return primary.store.size;
    },
    get stats() {
      return statsOf(state);
    },
    resetStats: () => resetCounters(state),
    get log() {
      return state.log;
    },
    inject: (spec) => faults.add(spec),
    afterPage: (page, change) => faults.add({ kind: 'mutate', when: 'after', page, run: change }),
    clearFaults: () => faults.clear(),
    get faults() {
      return faults.active;
    },
    setKeyCasing(casing: KeyCasing): void {
      settings.keyCasing = casing;
    },
    get keyCasing() {
      return settings.keyCasing;
    },
    setLatency(ms: number): void {
      if (!(ms >= 0)) throw new Error('latency must be >= 0 ms');
      settings.latencyMs = ms;
    },
    tokens: tokenControl(state),
    errors: state.errors,
    close,
  };
}
