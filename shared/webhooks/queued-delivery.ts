/**
 * Delivery of one queued webhook message (the SQS message a sync rule enqueued: the EventBridge event JSON)
 * — the logic of functions/webhook-delivery.ts, free of AWS so it is tested against a loopback receiver.
 *
 * Each receive of a message is one attempt; its number is SQS's ApproximateReceiveCount. A failed attempt
 * sets the message's visibility timeout to the next wait of the retry schedule (http.ts) and throws, so the
 * batch processor reports the message as a partial-batch failure and SQS hands it back when the wait is over.
 * After the last attempt the visibility is set to 0: the next receive exceeds the queue's maxReceiveCount
 * (= MAX_DELIVERY_ATTEMPTS) and SQS moves the message to the dead-letter queue.
 * A 410 Gone disables the subscription (its queue keeps the messages until it is re-enabled) and counts the
 * `WebhookSubscriptionDisabled` metric, which an alarm watches.
 */
import type { Log, MetricsSink } from '../ports.ts';
import { type AttemptOutcome, MAX_DELIVERY_ATTEMPTS, postWebhook, retryDelaySeconds } from './http.ts';
import { webhookIdOf } from './message.ts';
import { signWebhook } from './signing.ts';

/** The on/off switch of a webhook subscription. */
export interface SubscriptionSwitch {
  /** True once disabled in this process. */
  readonly disabled: boolean;
  /** Stops deliveries to the endpoint (it answered 410 Gone). Idempotent. */
  disable(reason: string): Promise<void>;
}

export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly receiptHandle: string;
  /** 1 on the first receive. */
  readonly receiveCount: number;
}

export interface QueuedDeliveryDeps {
  readonly url: URL;
  /** Current signing secrets (all sign; first is the newest). */
  secrets(): Promise<readonly string[]>;
  /** Makes the message visible again after `seconds`. */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void>;
  readonly subscription: SubscriptionSwitch;
  readonly metrics: MetricsSink;
  readonly log: Log;
  now(): number;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
}

/** Thrown for a message that was not delivered this time (the batch processor reports it as failed). */
export class WebhookDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryInSeconds: number | undefined,
  ) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

/** Pending retry, or the dead-letter queue when the attempts are exhausted. */
async function scheduleRetry(
  message: QueuedMessage,
  outcome: Extract<AttemptOutcome, { kind: 'failed' }>,
  webhookId: string,
  deps: QueuedDeliveryDeps,
): Promise<never> {
  const maxAttempts = deps.maxAttempts ?? MAX_DELIVERY_ATTEMPTS;
  const delay =
    message.receiveCount >= maxAttempts
      ? undefined
      : retryDelaySeconds(message.receiveCount, outcome.retryAfterSeconds);
  deps.metrics.count('WebhookDeliveryFailed');
  if (delay === undefined) {
    deps.metrics.count('WebhookDeliveryExhausted');
    deps.log.error('Webhook delivery attempts exhausted; the message goes to the dead-letter queue', {
      webhookId,
      attempt: message.receiveCount,
      reason: outcome.reason,
    });
  } else {
    deps.log.warn('Webhook delivery failed; retrying later', {
      webhookId,
      attempt: message.receiveCount,
      retryInSeconds: delay,
      reason: outcome.reason,
    });
  }
  await deps.changeVisibility(message.receiptHandle, delay ?? 0);
  throw new WebhookDeliveryError(`attempt ${message.receiveCount} failed: ${outcome.reason}`, delay);
}

/** Delivers one queued message or throws `WebhookDeliveryError` (after scheduling the retry). */
export async function deliverQueuedMessage(message: QueuedMessage, deps: QueuedDeliveryDeps): Promise<void> {
  if (deps.subscription.disabled) {
    throw new WebhookDeliveryError('subscription is disabled; the message stays queued', undefined);
  }
  let event: unknown;
  try {
    event = JSON.parse(message.body);
  } catch {
    event = undefined;
  }
  const webhookId = webhookIdOf(event);
  if (webhookId === undefined) {
    // Not an EventBridge event: it can never be delivered. Let it reach the dead-letter queue at once.
    deps.metrics.count('WebhookMalformedMessage');
    deps.log.error('Queued message is not an EventBridge event; sending it to the dead-letter queue', {
      messageId: message.messageId,
    });
    await deps.changeVisibility(message.receiptHandle, 0);
    throw new WebhookDeliveryError('message is not an EventBridge event', undefined);
  }
  const now = deps.now();
  const headers = signWebhook(webhookId, now, message.body, await deps.secrets());
  const started = deps.now();
  const outcome = await postWebhook({
    url: deps.url,
    body: message.body,
    headers: { ...headers },
    nowMs: now,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
  });
  deps.metrics.gauge('WebhookDeliveryLatency', deps.now() - started, 'Milliseconds');
  if (outcome.kind === 'delivered') {
    deps.metrics.count('WebhookDelivered');
    deps.log.info('Webhook delivered', { webhookId, attempt: message.receiveCount, status: outcome.status });
    return;
  }
  if (outcome.kind === 'gone') {
    deps.metrics.count('WebhookSubscriptionDisabled');
    deps.log.error('Webhook endpoint answered 410 Gone; disabling the subscription', { webhookId });
    await deps.subscription.disable('endpoint answered 410 Gone');
    throw new WebhookDeliveryError('endpoint answered 410 Gone; subscription disabled', undefined);
  }
  return scheduleRetry(message, outcome, webhookId, deps);
}
