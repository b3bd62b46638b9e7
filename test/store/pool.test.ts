import { describe, expect, it } from 'vitest';
import { chunks, pool } from '../../shared/store/pool.ts';

describe('running batches a few at a time', () => {
  it('never has more than the allowed number in flight, and runs every item', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await pool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running -= 1;
      done.push(n);
    });
    expect(most).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts nothing new after a failure and rejects with it', async () => {
    const started: number[] = [];
    const run = pool([1, 2, 3, 4], 1, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('batch 2 failed');
    });
    await expect(run).rejects.toThrow('batch 2 failed');
    expect(started).toEqual([1, 2]);
  });

  it('splits items into slices of at most the given size', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
