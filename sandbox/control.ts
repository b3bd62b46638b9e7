/** The programmatic control surface of a running sandbox: customers, tokens, statistics, settings. */
import type { SandboxCustomers, SandboxStats, SandboxTokens } from './api.ts';
import type { Organization, SandboxState } from './state.ts';

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
