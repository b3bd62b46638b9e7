/**
 * One poll as the poller runs it, reduced to what matters at scale: the registry check, the lease, the
 * quota admission (the REAL QuotaGuard and BlockReservation of shared/quota), then the listing's pages,
 * each through the REAL rate limiter of the key and taking `latencyMs` to answer, as the Nutcache client
 * sends them: `customers?limit=100&page=n`, one request per 100 customers (at least one), one after the
 * other (docs/nutcache-client.md). The start time of every request is recorded for the audit.
 */
import type { RateLimiter } from '../../shared/nutcache/rate-limiter.ts';
import { expectedPollCost, type QuotaGuard } from '../../shared/quota/budget.ts';
import { BlockReservation } from '../../shared/quota/policy.ts';
import { pagesPerPoll } from '../../shared/quota/schedule-check.ts';
import { LEASE_RENEW_MS, type Meter } from './meter.ts';
import type { Fire } from './schedule.ts';
import type { VirtualClock } from './virtual-clock.ts';

export interface PollContext {
  readonly clock: VirtualClock;
  readonly limiter: RateLimiter;
  readonly guard: QuotaGuard;
  readonly quota: ConstructorParameters<typeof BlockReservation>[0]['store'];
  readonly apiKeyId: string;
  readonly dailyBudget: number;
  readonly latencyMs: number;
  readonly meter: Meter;
  /** Start time of every Nutcache request on this key. */
  readonly requestStarts: number[];
}

export interface PollRecord {
  readonly dueAt: number;
  readonly firedAt: number;
  readonly everyMinutes: number;
  readonly startedAt: number;
  readonly requests: number;
  /** The quota guard refused the poll (no Nutcache request sent). */
  readonly deferred: boolean;
}

async function listPages(ctx: PollContext, pages: number, gate: BlockReservation): Promise<number> {
  let sent = 0;
  while (sent < pages && (await gate.gate(sent))) {
    await ctx.limiter.acquire();
    ctx.requestStarts.push(ctx.clock.now());
    sent += 1;
    await ctx.clock.sleep(ctx.latencyMs);
  }
  return sent;
}

function meterPoll(meter: Meter, durationMs: number): void {
  meter.polls += 1;
  meter.lambdaInvocations += 1;
  meter.lambdaMs += durationMs;
  meter.registryReads += 1;
  meter.leaseWrites += 2 + Math.floor(durationMs / LEASE_RENEW_MS);
}

export async function runPoll(ctx: PollContext, fire: Fire): Promise<PollRecord> {
  const { clock } = ctx;
  const startedAt = clock.now();
  const pages = pagesPerPoll(fire.org.customers);
  const base = { dueAt: fire.dueAt, firedAt: fire.firedAt, everyMinutes: fire.everyMinutes, startedAt };
  const admission = await ctx.guard.admit(expectedPollCost({ lastPages: pages }), fire.org);
  if (!admission.admitted) {
    meterPoll(ctx.meter, clock.now() - startedAt);
    return { ...base, requests: 0, deferred: true };
  }
  const { reservation } = admission;
  const gate = new BlockReservation({
    store: ctx.quota,
    apiKeyId: ctx.apiKeyId,
    day: reservation.day,
    reserved: reservation.reserved,
    dailyBudget: ctx.dailyBudget,
  });
  const requests = await listPages(ctx, pages, gate);
  await reservation.settle(requests);
  meterPoll(ctx.meter, clock.now() - startedAt);
  return { ...base, requests, deferred: false };
}
