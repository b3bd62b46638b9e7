/** The quota policy around each poll: the back-off deferral, reservation in blocks, the delay after a poll. */
import { describe, expect, it } from 'vitest';
import { apiKeyId } from '../../shared/quota/budget.ts';
import {
  BlockReservation,
  delayAfterPoll,
  notBeforeAfter,
  scheduledPollDeferral,
  throttlesSince,
} from '../../shared/quota/policy.ts';
import { MemoryQuotaStore } from '../support/memory-quota-store.ts';

const MINUTE = 60_000;
const NOON = Date.parse('2026-03-10T12:00:00Z');
const DAY = '2026-03-10';
const KEY = apiKeyId('policy-key');

describe('scheduledPollDeferral', () => {
  it('defers a scheduled poll until notBefore', () => {
    expect(
      scheduledPollDeferral({ notBefore: NOON + MINUTE, now: NOON, explicit: false, retry: false }),
    ).toBe(NOON + MINUTE);
  });

  it('lets a poll run once notBefore has passed, or when there is none', () => {
    expect(
      scheduledPollDeferral({ notBefore: NOON, now: NOON, explicit: false, retry: false }),
    ).toBeUndefined();
    expect(scheduledPollDeferral({ notBefore: 0, now: NOON, explicit: false, retry: false })).toBeUndefined();
    expect(scheduledPollDeferral({ now: NOON, explicit: false, retry: false })).toBeUndefined();
  });

  it('never defers an explicit "sync now" nor the retry after a 401', () => {
    const notBefore = NOON + MINUTE;
    expect(scheduledPollDeferral({ notBefore, now: NOON, explicit: true, retry: false })).toBeUndefined();
    expect(scheduledPollDeferral({ notBefore, now: NOON, explicit: false, retry: true })).toBeUndefined();
  });
});

describe('BlockReservation', () => {
  it('admits requests within the reservation without touching the counter', async () => {
    const store = new MemoryQuotaStore();
    const blocks = new BlockReservation({ store, apiKeyId: KEY, day: DAY, reserved: 30 });
    expect(await blocks.gate(29)).toBe(true);
    expect(await store.used(KEY, DAY)).toBe(0);
    expect(blocks.extra).toBe(0);
  });

  it('reserves half the estimate (at least 10) once the reservation is spent', async () => {
    const store = new MemoryQuotaStore();
    const blocks = new BlockReservation({ store, apiKeyId: KEY, day: DAY, reserved: 30 });
    expect(await blocks.gate(30)).toBe(true);
    expect(blocks.extra).toBe(15);
    expect(await store.used(KEY, DAY)).toBe(15);
    expect(await blocks.gate(44)).toBe(true);
    expect(blocks.extra).toBe(15);
    const small = new BlockReservation({ store, apiKeyId: KEY, day: DAY, reserved: 3 });
    expect(await small.gate(3)).toBe(true);
    expect(small.extra).toBe(10);
  });

  it('keeps only the part of a block that fits in the budget and refuses once it is spent', async () => {
    const store = new MemoryQuotaStore();
    await store.consume(KEY, DAY, 95);
    const blocks = new BlockReservation({ store, apiKeyId: KEY, day: DAY, reserved: 20, dailyBudget: 100 });
    expect(await blocks.gate(20)).toBe(true);
    expect(blocks.extra).toBe(5);
    expect(await store.used(KEY, DAY)).toBe(100);
    expect(await blocks.gate(25)).toBe(false);
    expect(blocks.extra).toBe(5);
    expect(await store.used(KEY, DAY)).toBe(100);
  });
});

describe('delayAfterPoll and notBeforeAfter', () => {
  /** A clean 3-page poll at noon, configured every 5 minutes, with budget to spare. */
  const FIVE_MINUTE_POLL = {
    configuredIntervalMs: 5 * MINUTE,
    recent429s: 0,
    usedToday: 100,
    now: NOON,
    pages: 3,
  };

  it('keeps the configured rate after a clean poll with budget to spare: no notBefore', () => {
    const delay = delayAfterPoll(FIVE_MINUTE_POLL);
    expect(delay).toEqual({ delayMs: 5 * MINUTE, reason: 'configured' });
    expect(notBeforeAfter(delay, 5 * MINUTE, NOON)).toBe(0);
  });

  it('backs off after 429s, with a tenth of an interval of slack on notBefore', () => {
    const delay = delayAfterPoll({ ...FIVE_MINUTE_POLL, recent429s: 2 });
    expect(delay).toEqual({ delayMs: 20 * MINUTE, reason: 'rate-limited' });
    expect(notBeforeAfter(delay, 5 * MINUTE, NOON)).toBe(NOON + 20 * MINUTE - 30_000);
  });

  it('paces the polls when the budget runs low, costing the next poll by the pages listed', () => {
    const few = delayAfterPoll({
      configuredIntervalMs: MINUTE,
      recent429s: 0,
      usedToday: 990,
      dailyBudget: 1000,
      now: NOON,
      pages: 1,
    });
    // 10 left, a poll costs 1 page + 2 of margin: 3 polls in the 12 hours left.
    expect(few).toEqual({ delayMs: 4 * 60 * MINUTE, reason: 'budget-paced' });
    const morePages = delayAfterPoll({
      configuredIntervalMs: MINUTE,
      recent429s: 0,
      usedToday: 990,
      dailyBudget: 1000,
      now: NOON,
      pages: 5,
    });
    // A poll of 5 pages costs 7: one poll fits in the 12 hours left.
    expect(morePages).toEqual({ delayMs: 12 * 60 * MINUTE, reason: 'budget-paced' });
  });
});

describe('throttlesSince', () => {
  it('counts the 429s a source meets after the call', () => {
    const source = { throttledCount: 4 };
    const recent = throttlesSince(source);
    source.throttledCount = 7;
    expect(recent()).toBe(3);
    expect(throttlesSince({})()).toBe(0);
  });
});
