/**
 * The poll's lease while it runs: renewed in the background (real time), and asked "still held?" before
 * every publish and commit.
 *
 * The lease is only trusted until `confirmedUntil`: the start of the last successful acquisition or renewal
 * plus its duration. A renewal that fails (throttling, network) does not extend it, so a poll cut off from
 * the store stops before another poll can have taken over.
 */
import type { Clock, Log, SnapshotStore } from '../ports.ts';
import { errorMessage } from './poll-types.ts';

/** Raised when the poll's lease was lost (expired and taken by another poll); nothing more is committed. */
export class LeaseLostError extends Error {
  constructor(organizationGuid: string) {
    super(`lease of organization ${organizationGuid} was lost; stopping without committing`);
    this.name = 'LeaseLostError';
  }
}

export interface LeaseKeeperOptions {
  readonly organizationGuid: string;
  readonly owner: string;
  readonly ttlMs: number;
  /** When the lease was acquired (the start of the acquisition). */
  readonly acquiredAtMs: number;
  /** Fields added to the renewal's log lines. */
  readonly logContext: Record<string, unknown>;
}

export class LeaseKeeper {
  readonly #store: Pick<SnapshotStore, 'renewLease'>;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #options: LeaseKeeperOptions;
  #lost = false;
  #confirmedUntil: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(store: Pick<SnapshotStore, 'renewLease'>, clock: Clock, log: Log, options: LeaseKeeperOptions) {
    this.#store = store;
    this.#clock = clock;
    this.#log = log;
    this.#options = options;
    this.#confirmedUntil = options.acquiredAtMs + options.ttlMs;
  }

  /** Starts renewing every third of the lease's duration (at least every second). */
  start(): void {
    this.#timer = setInterval(() => void this.renew(), Math.max(1_000, Math.floor(this.#options.ttlMs / 3)));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Extends the lease; a failed renewal is logged and leaves `confirmedUntil` as it was. */
  async renew(): Promise<void> {
    if (this.#lost) return;
    const { organizationGuid, owner, ttlMs } = this.#options;
    const attemptedAt = this.#clock.now();
    try {
      const ok = await this.#store.renewLease(organizationGuid, owner, ttlMs);
      if (ok) this.#confirmedUntil = attemptedAt + ttlMs;
      else this.#lost = true;
    } catch (error) {
      this.#log.warn('lease renewal failed; will retry', {
        ...this.#options.logContext,
        error: errorMessage(error),
      });
    }
  }

  /**
   * Still held? Renews when less than two thirds of the lease are left; gives up when less than a third
   * is. False once the lease is lost (for good).
   */
  async stillHeld(): Promise<boolean> {
    const ttlMs = this.#options.ttlMs;
    if (this.#confirmedUntil - this.#clock.now() < (ttlMs * 2) / 3) await this.renew();
    if (!this.#lost && this.#confirmedUntil - this.#clock.now() < ttlMs / 3) this.#lost = true;
    return !this.#lost;
  }

  /** Throws `LeaseLostError` unless the lease is still held: called before every publish and commit. */
  async checkpoint(): Promise<void> {
    if (!(await this.stillHeld())) throw new LeaseLostError(this.#options.organizationGuid);
  }
}
