/**
 * A resync whose webhook deliveries fail (HTTP 500, exit 3), then a plain poll, as a user runs them: the
 * plain poll finishes the resync from the journal, and every customer reaches the endpoint under one event
 * id only (the README's "every duplicate carries the same event id"). The summary says what happened
 * (journaled events delivered again), not that something crashed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/server.ts';
import { runCli, sandboxCliEnv } from '../support/cli.ts';
import { type Receiver, startReceiver } from '../webhooks/receiver.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('nutcache-cdc resync with failing webhook deliveries, then poll', () => {
  let sandbox: Sandbox;
  let receiver: Receiver;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    sandbox = await startSandbox({ rateLimit: null });
    receiver = await startReceiver(SECRET);
    dir = mkdtempSync(join(tmpdir(), 'nutcache-cdc-resync-'));
    env = sandboxCliEnv(sandbox, dir);
  });

  afterAll(async () => {
    await receiver?.close();
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (command: 'poll' | 'resync') =>
    runCli(
      [
        command,
        '--base-url',
        sandbox.url,
        '--state-dir',
        dir,
        '--webhook-url',
        receiver.url,
        '--webhook-secret',
        SECRET,
      ],
      env,
      60_000,
    );

  /** customerId → the event ids of the webhooks received from index `from` to `to`. */
  function idsByCustomer(from: number, to = receiver.received.length): Map<number, Set<string>> {
    const out = new Map<number, Set<string>>();
    for (const hook of receiver.received.slice(from, to)) {
      if (!hook.verified.ok) continue;
      const { detail } = hook.verified.payload as { detail: { customerId?: number; eventId: string } };
      if (detail.customerId === undefined) continue;
      const ids = out.get(detail.customerId) ?? new Set<string>();
      ids.add(detail.eventId);
      out.set(detail.customerId, ids);
    }
    return out;
  }

  it('delivers each customer under one event id and names the recovery honestly', async () => {
    expect((await run('poll')).code).toBe(0); // the initial load
    const resyncStart = receiver.received.length;

    // Every delivery of the resync is answered 500 (6 attempts of each of 8 events, and more).
    receiver.script.push(...Array.from({ length: 200 }, () => ({ status: 500 })));
    const resync = await run('resync');
    expect(resync.code, resync.stderr).toBe(3);
    const nextStart = receiver.received.length;
    expect(nextStart - resyncStart).toBeLessThan(200);
    receiver.script.length = 0;

    const next = await run('poll');
    expect(next.code, next.stderr).toBe(0);
    const attempted = idsByCustomer(resyncStart, nextStart);
    const delivered = idsByCustomer(nextStart);
    const customerIds = sandbox
      .list()
      .map((c) => c.id)
      .sort();
    expect([...attempted.keys()].sort()).toEqual(customerIds);
    // The poll delivered every customer once more, under the event id the resync had given it, and no other.
    expect(delivered).toEqual(attempted);
    for (const ids of delivered.values()) expect(ids.size).toBe(1);
    expect(next.stderr).not.toMatch(/crash/);
    expect(next.stderr).toMatch(/ success: .*8 re-published from the journal/);
  }, 120_000);
});
