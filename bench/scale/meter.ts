/**
 * What the scheduling around each poll costs in AWS requests and DynamoDB units, counted as the
 * simulation runs (see docs/performance.md "Scale" for which figures are counted and which estimated).
 *
 * Per poll, from the design (ORG-DESIGN.md): one Scheduler invocation; SQS SendMessage (by Scheduler),
 * ReceiveMessage (the Lambda event source, batch size 1) and DeleteMessage; one Lambda invocation; the
 * registry GetItem (state check at the start of the poll, item < 4 KB, strongly consistent: 1 read unit);
 * the lease: a conditional write to take it, one renewal per 20 s of poll time (a third of its 60 s TTL),
 * one to release it (items < 1 KB: 1 write unit each). The quota counter (one `ADD` to reserve, one to
 * settle or a consistent read when the estimate was exact) is counted apart: polls paid it before.
 */
import type { QuotaStore } from '../../shared/quota/budget.ts';

/** The lease keeper renews every third of the lease's 60 s TTL (shared/engine/lease-keeper.ts, poll.ts). */
export const LEASE_RENEW_MS = 20_000;

export interface Meter {
  polls: number;
  schedulerInvocations: number;
  sqsSend: number;
  sqsReceive: number;
  sqsDelete: number;
  lambdaInvocations: number;
  /** Lambda duration of the polls (ms), waits on the rate limiter included. */
  lambdaMs: number;
  registryReads: number;
  leaseWrites: number;
  quotaWrites: number;
  quotaReads: number;
}

export function newMeter(): Meter {
  return {
    polls: 0,
    schedulerInvocations: 0,
    sqsSend: 0,
    sqsReceive: 0,
    sqsDelete: 0,
    lambdaInvocations: 0,
    lambdaMs: 0,
    registryReads: 0,
    leaseWrites: 0,
    quotaWrites: 0,
    quotaReads: 0,
  };
}

/** Adds `b` into `a`. */
export function addMeter(a: Meter, b: Meter): void {
  for (const key of Object.keys(a) as (keyof Meter)[]) a[key] += b[key];
}

/** A per-key quota counter in memory that counts its DynamoDB requests (one UpdateItem or GetItem each). */
export class CountingQuotaStore implements QuotaStore {
  readonly #counts = new Map<string, number>();
  readonly #meter: Meter;

  constructor(meter: Meter) {
    this.#meter = meter;
  }

  async consume(apiKeyId: string, day: string, requests: number): Promise<number> {
    this.#meter.quotaWrites += 1;
    const key = `${apiKeyId}/${day}`;
    const total = (this.#counts.get(key) ?? 0) + requests;
    this.#counts.set(key, total);
    return total;
  }

  async used(apiKeyId: string, day: string): Promise<number> {
    this.#meter.quotaReads += 1;
    return this.#counts.get(`${apiKeyId}/${day}`) ?? 0;
  }
}
