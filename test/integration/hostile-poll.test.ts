/**
 * A poll against a Nutcache that reflects the credentials back (the sandbox's `reflect` fault): what the
 * engine keeps of the failure (PollResult.error, the run record behind `status`, the log lines) must hold
 * none of them, in any spelling.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ReflectEncoding } from '../../sandbox/faults.ts';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { runPoll } from '../../shared/engine/poll.ts';
import { NutcacheClient } from '../../shared/nutcache/client.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { recordingLog } from '../client/helpers.ts';
import { TestClock } from '../support/clock.ts';

const credentials = {
  apiKey: 'Hx3kQ9zLmP7vR2tY8wB4nC6dF1gJ5sA0eU2iO7qW',
  username: 'reflect.me@example.org',
  password: 'p@ss w/ <odd> & "chars"',
};

function forms(value: string): string[] {
  const html = value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return [value, encodeURIComponent(value), html, Buffer.from(value).toString('base64')];
}

const forbidden = [
  ...[credentials.apiKey, credentials.username, credentials.password].flatMap(forms),
  Buffer.from(`${credentials.apiKey}:${credentials.username}:${credentials.password}`).toString('base64'),
];

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function failedPoll(into: 'next-link' | 'body', encoding: ReflectEncoding) {
  sandbox = await startSandbox({ credentials: [credentials], rateLimit: null, generated: 30 });
  sandbox.inject({ kind: 'reflect', into, encoding, status: 500, page: 1, times: 5 });
  const clock = new TestClock();
  const log = recordingLog();
  const client = new NutcacheClient({
    baseUrl: sandbox.url,
    organizationGuid: sandbox.organizationGuid,
    credentials,
    clock,
    rateLimit: new SlidingWindowLimiter({ perSecond: 1000, perMinute: 100_000 }, clock),
    retry: { maxAttempts: 2 },
    logger: log,
  });
  const store = new InMemorySnapshotStore({ clock });
  const result = await runPoll(
    {
      source: client,
      store,
      bus: new MemoryBus(),
      deadLetters: new MemoryDeadLetterSink(clock),
      clock,
      log,
      metrics: new RecordingMetrics(),
    },
    { organizationGuid: sandbox.organizationGuid, pageLimit: 10 },
  );
  const runs = await store.listRunRecords(sandbox.organizationGuid, 10);
  return { result, runs, lines: log.lines };
}

describe('a poll against a server that reflects the credentials', () => {
  it.each([
    ['next-link', 'raw'],
    ['next-link', 'percent'],
    ['next-link', 'html'],
    ['next-link', 'base64'],
    ['body', 'raw'],
    ['body', 'html'],
    ['body', 'base64'],
  ] as const)(
    'keeps them out of PollResult.error, the run record and the logs (%s, %s)',
    async (into, encoding) => {
      const { result, runs, lines } = await failedPoll(into, encoding);
      expect(result.outcome).not.toBe('success');
      expect(result.error).toMatch(/Nutcache GET/);
      expect(runs.length).toBeGreaterThan(0);
      const texts = [result.error ?? '', JSON.stringify(runs), ...lines];
      for (const text of texts) for (const form of forbidden) expect(text).not.toContain(form);
    },
  );
});
