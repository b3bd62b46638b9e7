/**
 * The committed snapshots a poll compares its changes with, read group by group as the plan reaches them
 * instead of all at once: a poll in which most customers changed would otherwise hold every previous
 * record of the organization in memory beside the new ones.
 *
 * The ids are asked for in the order given to the constructor (the order the plan visits them), and each
 * group is GROUP_SIZE ids, a multiple of BatchGetItem's 100 keys, so the store sends exactly the requests
 * one read of every id would (a read of N ids is ceil(N / 100) requests either way).
 */
import type { StoredSnapshot } from '../ports.ts';

export const PRIOR_GROUP_SIZE = 1_000;

export type ReadSnapshots = (ids: readonly number[]) => Promise<Map<number, StoredSnapshot>>;

export class PriorSnapshots {
  readonly #ids: readonly number[];
  readonly #wanted: ReadonlySet<number>;
  readonly #read: ReadSnapshots;
  readonly #groupSize: number;
  #next = 0;
  #asked = new Set<number>();
  #group = new Map<number, StoredSnapshot>();

  /** `ids` in the order `get` will be called for them; `read` reads the snapshots of some ids. */
  constructor(ids: readonly number[], read: ReadSnapshots, groupSize = PRIOR_GROUP_SIZE) {
    this.#ids = ids;
    this.#wanted = new Set(ids);
    this.#read = read;
    this.#groupSize = groupSize;
  }

  /**
   * The committed snapshot of `id`, or undefined when it has none (or was not among the ids). Calls must
   * follow the constructor's order; ids not among them may be asked for at any time.
   */
  async get(id: number): Promise<StoredSnapshot | undefined> {
    if (!this.#wanted.has(id)) return undefined;
    while (!this.#asked.has(id) && this.#next < this.#ids.length) {
      const group = this.#ids.slice(this.#next, this.#next + this.#groupSize);
      this.#next += group.length;
      this.#asked = new Set(group);
      this.#group = await this.#read(group);
    }
    return this.#group.get(id);
  }
}
