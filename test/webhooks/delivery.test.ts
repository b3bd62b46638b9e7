import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Log } from '../../shared/ports.ts';
import {
  checkDeliveryUrl,
  MAX_DELIVERY_ATTEMPTS,
  parseRetryAfter,
  postWebhook,
  RETRY_SCHEDULE_SECONDS,
  retryDelaySeconds,
} from '../../shared/webhooks/http.ts';
import {
  deliverQueuedMessage,
  type QueuedDeliveryDeps,
  type QueuedMessage,
  type SubscriptionSwitch,
  WebhookDeliveryError,
} from '../../shared/webhooks/queued-delivery.ts';
import { generateWebhookSecret } from '../../shared/webhooks/signing.ts';
import { customer, customerEvent } from '../rules/customer-events.ts';
import { type Receiver, startReceiver } from './receiver.ts';

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };

class RecordingSwitch implements SubscriptionSwitch {
  reasons: string[] = [];
  get disabled() {
    return this.reasons.length > 0;
  }
  async disable(reason: string) {
    this.reasons.push(reason);
  }
}

const secret = generateWebhookSecret();
let receiver: Receiver;
let visibility: { handle: string; seconds: number }[];
let counted: string[];
let subscription: RecordingSwitch;

function deps(overrides: Partial<QueuedDeliveryDeps> = {}): QueuedDeliveryDeps {
  return {
    url: checkDeliveryUrl(receiver.url, { allowLoopbackHttp: true }),
    secrets: async () => [secret],
    changeVisibility: async (handle, seconds) => {
      visibility.push({ handle, seconds });
    },
    subscription,
    metrics: { count: (name) => counted.push(name), gauge: () => {} },
    log: silent,
    now: Date.now,
    ...overrides,
  };
}

const event = customerEvent(
  'updated',
  customer({ status: 0 }),
  customer({ status: 1 }),
  'evt-deactivated-42',
);
function message(receiveCount = 1, body = JSON.stringify(event)): QueuedMessage {
  return {
    messageId: `m-${receiveCount}`,
    body,
    receiptHandle: `rh-${receiveCount}`,
    receiveCount,
    receivedAt: Date.now(),
  };
}

async function failure(promise: Promise<void>): Promise<WebhookDeliveryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookDeliveryError);
  return error as WebhookDeliveryError;
}

beforeEach(async () => {
  receiver = await startReceiver(secret);
  visibility = [];
  counted = [];
  subscription = new RecordingSwitch();
});
afterEach(async () => {
  await receiver.close();
});

describe('queued webhook delivery', () => {
  it('POSTs the EventBridge event JSON, signed, with webhook-id = detail.eventId', async () => {
    await deliverQueuedMessage(message(), deps());
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    expect(got?.verified).toEqual({ ok: true, payload: event });
    expect(got?.headers['webhook-id']).toBe('evt-deactivated-42');
    expect(got?.headers['content-type']).toBe('application/json');
    expect(got?.body).toBe(JSON.stringify(event));
    expect(visibility).toEqual([]);
    expect(counted).toContain('WebhookDelivered');
  });

  it('retries a 500 on the schedule: attempt 1 waits 5 s, attempt 3 waits 30 min', async () => {
    receiver.script.push({ status: 500 }, { status: 500 });
    const first = await failure(deliverQueuedMessage(message(1), deps()));
    expect(first.retryInSeconds).toBe(5);
    await failure(deliverQueuedMessage(message(3), deps()));
    expect(visibility).toEqual([
      { handle: 'rh-1', seconds: 5 },
      { handle: 'rh-3', seconds: 1800 },
    ]);
    expect(receiver.received.every((r) => r.verified.ok)).toBe(true);
    expect(counted.filter((c) => c === 'WebhookDeliveryFailed')).toHaveLength(2);
  });

  it('honours Retry-After on 429 (seconds) and 503 (HTTP date), never retrying earlier than asked', async () => {
    receiver.script.push({ status: 429, headers: { 'retry-after': '120' } });
    await failure(deliverQueuedMessage(message(1), deps()));
    const now = Date.parse('2026-01-15T10:00:00Z');
    receiver.script.push({ status: 503, headers: { 'retry-after': 'Thu, 15 Jan 2026 11:00:00 GMT' } });
    await failure(deliverQueuedMessage({ ...message(2), receivedAt: now }, deps({ now: () => now })));
    // A Retry-After shorter than the schedule does not shorten it.
    receiver.script.push({ status: 429, headers: { 'retry-after': '1' } });
    await failure(deliverQueuedMessage(message(3), deps()));
    expect(visibility.map((v) => v.seconds)).toEqual([120, 3600, 1800]);
  });

  it('sends an exhausted message to the dead-letter queue (visibility 0 after the last attempt)', async () => {
    receiver.script.push({ status: 500 });
    const error = await failure(deliverQueuedMessage(message(MAX_DELIVERY_ATTEMPTS), deps()));
    expect(error.retryInSeconds).toBeUndefined();
    expect(visibility).toEqual([{ handle: `rh-${MAX_DELIVERY_ATTEMPTS}`, seconds: 0 }]);
    expect(counted).toContain('WebhookDeliveryExhausted');
  });

  it('disables the subscription on 410 Gone, counts it for the alarm, and sends nothing more', async () => {
    receiver.script.push({ status: 410 });
    await failure(deliverQueuedMessage(message(1), deps()));
    expect(subscription.reasons).toEqual(['endpoint answered 410 Gone']);
    expect(counted).toContain('WebhookSubscriptionDisabled');
    await failure(deliverQueuedMessage(message(2), deps()));
    expect(receiver.received).toHaveLength(1);
    expect(visibility).toEqual([]);
  });

  it('treats any non-2xx answer as a failure, 4xx included', async () => {
    receiver.script.push({ status: 400 }, { status: 301, headers: { location: '/elsewhere' } });
    await failure(deliverQueuedMessage(message(1), deps()));
    await failure(deliverQueuedMessage(message(2), deps()));
    expect(visibility.map((v) => v.seconds)).toEqual([5, 300]);
  });

  it('does not follow a redirect to another host, but follows a 307 on the same origin', async () => {
    const other = await startReceiver(secret);
    try {
      receiver.script.push({ status: 307, headers: { location: other.url } });
      await failure(deliverQueuedMessage(message(1), deps()));
      expect(other.received).toHaveLength(0);
      receiver.script.push({ status: 308, headers: { location: '/moved' } });
      await deliverQueuedMessage(message(2), deps());
      expect(receiver.received.map((r) => r.path)).toEqual(['/hooks/nutcache', '/hooks/nutcache', '/moved']);
      expect(receiver.received.at(-1)?.verified.ok).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('gives up on an endpoint that does not answer within the timeout', async () => {
    receiver.script.push({ hang: true, status: 200 });
    const error = await failure(deliverQueuedMessage(message(1), deps({ timeoutMs: 200 })));
    expect(error.message).toMatch(/timed out/);
    expect(visibility).toEqual([{ handle: 'rh-1', seconds: 5 }]);
  });

  it('sends a message that is not an EventBridge event straight to the dead-letter queue', async () => {
    await failure(deliverQueuedMessage(message(1, 'not json'), deps()));
    expect(receiver.received).toHaveLength(0);
    expect(visibility).toEqual([{ handle: 'rh-1', seconds: 0 }]);
  });
});

describe('retry waits and the SQS 12-hour visibility limit', () => {
  const failing = (clock: { ms: number }) =>
    (async () => {
      clock.ms += 3000; // the endpoint takes 3 s to answer 500
      return new Response(null, { status: 500 });
    }) as typeof fetch;

  it('never asks SQS for a visibility ending more than 12 h (less the margin) after the receive', async () => {
    const clock = { ms: Date.parse('2026-01-15T10:00:00Z') };
    for (const receiveCount of [7, 8, 9]) {
      const receivedAt = clock.ms;
      const error = await failure(
        deliverQueuedMessage(
          { ...message(receiveCount), receivedAt },
          deps({ now: () => clock.ms, fetch: failing(clock), visibilityMarginSeconds: 120 }),
        ),
      );
      const elapsed = Math.ceil((clock.ms - receivedAt) / 1000);
      expect(elapsed).toBe(3);
      expect(visibility.at(-1)?.seconds).toBe(43_200 - elapsed - 120);
      expect(error.retryInSeconds).toBe(43_200 - elapsed - 120);
      clock.ms += 43_200_000;
    }
  });

  it('leaves shorter waits as scheduled', async () => {
    const clock = { ms: Date.parse('2026-01-15T10:00:00Z') };
    await failure(
      deliverQueuedMessage(
        { ...message(6), receivedAt: clock.ms },
        deps({ now: () => clock.ms, fetch: failing(clock) }),
      ),
    );
    expect(visibility).toEqual([{ handle: 'rh-6', seconds: 36_000 }]);
  });

  it('retries a refused visibility change once with half the wait', async () => {
    const clock = { ms: Date.parse('2026-01-15T10:00:00Z') };
    const asked: number[] = [];
    const error = await failure(
      deliverQueuedMessage(
        { ...message(7), receivedAt: clock.ms },
        deps({
          now: () => clock.ms,
          fetch: failing(clock),
          changeVisibility: async (_handle, seconds) => {
            asked.push(seconds);
            if (asked.length === 1)
              throw Object.assign(new Error('refused'), { name: 'InvalidParameterValue' });
          },
        }),
      ),
    );
    expect(asked).toEqual([43_077, 21_538]);
    expect(error.retryInSeconds).toBe(21_538);
  });

  it('still fails the attempt (the queue visibility brings it back) when both visibility changes fail', async () => {
    const clock = { ms: Date.parse('2026-01-15T10:00:00Z') };
    let calls = 0;
    const error = await failure(
      deliverQueuedMessage(
        { ...message(2), receivedAt: clock.ms },
        deps({
          now: () => clock.ms,
          fetch: failing(clock),
          changeVisibility: async () => {
            calls++;
            throw new Error('throttled');
          },
        }),
      ),
    );
    expect(calls).toBe(2);
    expect(error.retryInSeconds).toBeUndefined();
    expect(counted).toContain('WebhookVisibilityChangeFailed');
  });
});

describe('delivery policy', () => {
  it('follows Standard Webhooks waits, capped at the 12 h SQS visibility limit', () => {
    expect(RETRY_SCHEDULE_SECONDS).toEqual([5, 300, 1800, 7200, 18000, 36000, 43200, 43200, 43200]);
    expect(MAX_DELIVERY_ATTEMPTS).toBe(10);
    const total = RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0);
    expect(total / 3600).toBeCloseTo(53.6, 1);
    expect(retryDelaySeconds(1)).toBe(5);
    expect(retryDelaySeconds(1, 100_000)).toBe(43_200);
    expect(retryDelaySeconds(10)).toBeUndefined();
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-15T10:00:00Z');
    expect(parseRetryAfter('30', now)).toBe(30);
    expect(parseRetryAfter('Thu, 15 Jan 2026 10:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('allows https anywhere and http only to loopback in local runs', () => {
    expect(checkDeliveryUrl('https://crm.example.com/x').host).toBe('crm.example.com');
    expect(() => checkDeliveryUrl('http://127.0.0.1:8080/x')).toThrow(/must be https/);
    expect(checkDeliveryUrl('http://127.0.0.1:8080/x', { allowLoopbackHttp: true }).port).toBe('8080');
    expect(checkDeliveryUrl('http://localhost/x', { allowLoopbackHttp: true }).hostname).toBe('localhost');
    expect(() => checkDeliveryUrl('http://crm.example.com/x', { allowLoopbackHttp: true })).toThrow(
      /loopback/,
    );
    expect(() => checkDeliveryUrl('https://user:pw@crm.example.com/x')).toThrow(/credentials/);
  });

  it('names only the host in failure reasons (a URL may carry a token)', async () => {
    const outcome = await postWebhook({
      url: new URL('https://127.0.0.1:1/hook?token=s3cr3t'),
      body: '{}',
      headers: {},
      nowMs: Date.now(),
      timeoutMs: 2000,
    });
    expect(outcome.kind).toBe('failed');
    expect(JSON.stringify(outcome)).not.toContain('s3cr3t');
  });
});
