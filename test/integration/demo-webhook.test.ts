/**
 * `npm start -- --webhook-url … --webhook-secret …`: the local demo delivers every event it prints to the
 * user's endpoint as a Standard Webhooks signed POST, checked here by an independent receiver built on the
 * `standardwebhooks` library.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerChangeDetailSchema, eventBridgeEventSchema } from '../../shared/events/contract.ts';
import { runCli } from '../support/cli.ts';
import { type Receiver, startReceiver } from '../webhooks/receiver.ts';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;

function runDemo(args: string[]) {
  return runCli(['demo', ...args], { NO_COLOR: '1' }, 40_000);
}

describe('the local demo with --webhook-url', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('delivers each event it prints as a verified signed webhook whose webhook-id is the eventId', async () => {
    const run = await runDemo([
      '--polls',
      '3',
      '--interval',
      '0.2',
      '--generated',
      '0',
      '--seed',
      '11',
      '--webhook-url',
      receiver.url,
      '--webhook-secret',
      SECRET,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const printed = run.stdout.split('\n').filter((line) => /^[=+~-] Customer /.test(line));
    expect(printed.filter((l) => l.startsWith('= Customer Snapshot'))).toHaveLength(8);
    expect(printed.length).toBeGreaterThan(8); // the simulator's changes too
    expect(receiver.received).toHaveLength(printed.length);
    for (const hook of receiver.received) {
      expect(hook.verified).toMatchObject({ ok: true });
      const event = eventBridgeEventSchema.parse(JSON.parse(hook.body));
      const detail = customerChangeDetailSchema.parse(event.detail);
      expect(hook.headers['webhook-id']).toBe(detail.eventId);
      expect(printed.some((line) => line.includes(detail.eventId))).toBe(true);
    }
  }, 60_000);
});
