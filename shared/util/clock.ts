import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../ports.ts';

/** Real time. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) return;
    await delay(ms, undefined, signal ? { signal } : undefined);
  },
};
