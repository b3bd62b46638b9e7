/**
 * Delivery of one queued webhook message (the SQS message a sync rule enqueued: the EventBridge event JSON)
 * — the logic of functions/webhook-delivery.ts, free of AWS so it is tested against a loopback receiver.
 *
 * Each receive of a message is one attempt; its number is SQS's ApproximateReceiveCount. A failed attempt
 * sets the message's visibility timeout to the next wait of the retry schedule (http.ts) and throws, so the
 * batch processor reports the message as a partial-batch failure and SQS hands it back when the wait is over.
 * SQS refuses a visibility timeout that ends more than 12 h after the message was received, so a wait is
 * capped at 12 h minus the time since this receive minus a safety margin (`visibilityMarginSeconds`); should
 * SQS still refuse it, the change is retried once with half the wait.
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
  /**
   * Epoch milliseconds by which this receive of the message had happened (the invocation's start, or SQS's
   * ApproximateFirstReceiveTimestamp on the first receive): SQS's 12-hour visibility limit counts from it.
   */
  readonly receivedAt: number;
}

/** SQS's limit: a message's visibility timeout may end at most 12 h after the message was received. */
export const MAX_VISIBILITY_SINCE_RECEIVE_SECONDS = 43_200;
/** @see QueuedDeliveryDeps.visibilityMarginSeconds */
export const DEFAULT_VISIBILITY_MARGIN_SECONDS = 120;

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
  /**
   * Kept free under SQS's 12-hour limit, for the gap between the receive and `receivedAt` and for clock
   * error. @default DEFAULT_VISIBILITY_MARGIN_SECONDS (2 × the delivery function's 60 s timeout)
   */
  readonly visibilityMarginSeconds?: number;
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

/** The longest visibility timeout SQS still accepts for this receive of the message, less the margin. */
export function visibilityLeftSeconds(message: QueuedMessage, deps: QueuedDeliveryDeps): number {
  const elapsed = Math.max(0, Math.ceil((deps.now() - message.receivedAt) / 1000));
  const margin = deps.visibilityMarginSeconds ?? DEFAULT_VISIBILITY_MARGIN_SECONDS;
  return Math.max(0, MAX_VISIBILITY_SINCE_RECEIVE_SECONDS - elapsed - margin);
}

/**
 * Sets the visibility timeout; when SQS refuses it (e.g. beyond its 12-hour limit), tries once more with half
 * the value. Returns the seconds set, or undefined when both calls failed (the message then comes back after
 * the queue's own visibility timeout).
 */
async function setVisibility(
  message: QueuedMessage,
  seconds: number,
  webhookId: string,
  deps: QueuedDeliveryDeps,
): Promise<number | undefined> {
  try {
    await deps.changeVisibility(message.receiptHandle, seconds);
    return seconds;
  } catch (error) {
    const smaller = Math.floor(seconds / 2);
    deps.log.warn('Changing the message visibility failed; retrying once with a shorter wait', {
      webhookId,
      seconds,
      retrySeconds: smaller,
      error: error instanceof Error ? error.name : 'unknown',
    });
    try {
      await deps.changeVisibility(message.receiptHandle, smaller);
      return smaller;
    } catch (again) {
      deps.metrics.count('WebhookVisibilityChangeFailed');
      deps.log.error(
        "Changing the message visibility failed twice; it comes back after the queue's visibility timeout",
        { webhookId, error: again instanceof Error ? again.name : 'unknown' },
      );
      return undefined;
    }
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
  const scheduled =
    message.receiveCount >= maxAttempts
      ? undefined
      : retryDelaySeconds(message.receiveCount, outcome.retryAfterSeconds);
  const delay =
    scheduled === undefined ? undefined : Math.min(scheduled, visibilityLeftSeconds(message, deps));
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
  const set = await setVisibility(message, delay ?? 0, webhookId, deps);
  throw new WebhookDeliveryError(
    `attempt ${message.receiveCount} failed: ${outcome.reason}`,
    delay === undefined ? undefined : set,
  );
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
