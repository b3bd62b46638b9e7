/**
 * `WebhookSubscription`: one signed-webhook endpoint fed by sync rules. Rules → an SQS queue (encrypted, TLS
 * only, with a dead-letter queue after MAX_DELIVERY_ATTEMPTS receives) → the delivery function
 * (functions/webhook-delivery.ts, partial batch failures) → HTTPS POST signed with the secret's keys.
 *
 * A 410 Gone from the endpoint makes the function disable its own event source mapping on this queue (the
 * subscription is "disabled": events wait in the queue, up to its 14-day retention) and count the
 * `WebhookSubscriptionDisabled` metric; alarms watch that metric, the dead-letter queue and the age of the
 * oldest queued event. docs/webhooks.md explains re-enabling and redriving.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, METRICS_NAMESPACE } from '../../shared/config/env.ts';
import { WEBHOOK_DELIVERY_ENV } from '../../shared/webhooks/aws-adapters.ts';
import { checkDeliveryUrl, MAX_DELIVERY_ATTEMPTS } from '../../shared/webhooks/http.ts';
import { functionEntry } from '../paths.ts';
import { alarmNamePrefix, atLeastAlarm } from './alarms.ts';
import { NutcacheFunction } from './nutcache-function.ts';
import { SECURE_QUEUE_PROPS, terminalQueue } from './queues.ts';

export const WEBHOOK_DELIVERY_ENTRY = functionEntry('webhook-delivery.ts');
/** Prefix of the delivery functions' Powertools service name (`webhook-delivery-<environment>`). */
export const WEBHOOK_DELIVERY_SERVICE = 'webhook-delivery';
/** The delivery function's service name (the `service` metric dimension) in one environment. */
export const webhookDeliveryService = (environmentName: string) =>
  `${WEBHOOK_DELIVERY_SERVICE}-${environmentName}`;
/** Each message in a batch is sent concurrently; 15 s request timeout + same-origin redirects + margin. */
export const WEBHOOK_DELIVERY_TIMEOUT = Duration.seconds(60);

export interface WebhookSubscriptionProps {
  /** The endpoint: https only. */
  readonly url: string;
  /**
   * The deployment's environment (`dev`, `prod`…): part of the alarm names and of the metrics' service name,
   * so environments sharing an account and region neither clash nor mix their metrics.
   */
  readonly environmentName: string;
  /** Secrets Manager secret holding `{"secrets": ["whsec_…", …]}` (or a bare `whsec_…`). */
  readonly secret: secretsmanager.ISecret;
  /** Name in metrics, alarms and logs. @default the construct id */
  readonly subscriptionName?: string;
  /** At most this many concurrent delivery functions (protects the receiver). @default 2 */
  readonly maxConcurrency?: number;
  /** Messages per batch. @default 10 */
  readonly batchSize?: number;
  /** Alarm notifications. */
  readonly alarmAction?: cloudwatch.IAlarmAction;
  /** Alarm when the oldest queued event is older than this. @default 1 day */
  readonly maxEventAge?: Duration;
  /** The delivery handler file. @default functions/webhook-delivery.ts */
  readonly entry?: string;
}

/** The props with every default filled in ({@link withDefaults}). */
interface WebhookSubscriptionSettings extends Required<Omit<WebhookSubscriptionProps, 'alarmAction'>> {
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

/** Fills in every optional prop of a subscription with construct id `id`. */
function withDefaults(id: string, props: WebhookSubscriptionProps): WebhookSubscriptionSettings {
  return {
    ...props,
    subscriptionName: props.subscriptionName ?? id,
    maxConcurrency: props.maxConcurrency ?? 2,
    batchSize: props.batchSize ?? 10,
    maxEventAge: props.maxEventAge ?? Duration.days(1),
    entry: props.entry ?? WEBHOOK_DELIVERY_ENTRY,
  };
}

export class WebhookSubscription extends Construct {
  readonly subscriptionName: string;
  readonly environmentName: string;
  /** The delivery function's Powertools service name (`service` dimension of its metrics). */
  readonly serviceName: string;
  readonly url: string;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly deliveryFunction: NutcacheFunction;
  readonly eventSourceMapping: lambda.EventSourceMapping;
  readonly disabledAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly backlogAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: WebhookSubscriptionProps) {
    super(scope, id);
    checkDeliveryUrl(props.url);
    const settings = withDefaults(id, props);
    this.url = settings.url;
    this.subscriptionName = settings.subscriptionName;
    this.environmentName = settings.environmentName;
    this.serviceName = webhookDeliveryService(settings.environmentName);

    this.deadLetterQueue = terminalQueue(this, 'DeadLetterQueue', {
      noDeadLetterQueue:
        'This queue is the dead-letter queue of the webhook subscription; it is redriven by an operator.',
      noRedrivePolicy:
        'This queue is itself a dead-letter store (terminal); docs/webhooks.md documents its redrive.',
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...SECURE_QUEUE_PROPS,
      // AWS's advice for Lambda consumers: at least 6 × the function timeout.
      visibilityTimeout: Duration.seconds(WEBHOOK_DELIVERY_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_DELIVERY_ATTEMPTS },
    });
    this.deliveryFunction = this.createDeliveryFunction(settings);
    this.eventSourceMapping = this.createQueueMapping(settings);
    this.allowDisablingOnGone();
    acknowledgeFunctionFindings(this.deliveryFunction);

    this.disabledAlarm = this.createDisabledAlarm();
    this.deadLetterAlarm = this.createDeadLetterAlarm();
    this.backlogAlarm = this.createBacklogAlarm(settings.maxEventAge);
    if (settings.alarmAction) {
      for (const alarm of [this.disabledAlarm, this.deadLetterAlarm, this.backlogAlarm]) {
        alarm.addAlarmAction(settings.alarmAction);
      }
    }
  }

  /** The delivery function: the endpoint, its signing secret, and consumption of this queue only. */
  private createDeliveryFunction(settings: WebhookSubscriptionSettings): NutcacheFunction {
    const fn = new NutcacheFunction(this, 'Delivery', {
      entry: settings.entry,
      description: `Delivers nutcache-cdc events to the ${this.subscriptionName} webhook`,
      serviceName: this.serviceName,
      timeout: WEBHOOK_DELIVERY_TIMEOUT,
      memorySize: 256,
    });
    fn.withSetting(ENV.webhookUrl, settings.url).useSecret(ENV.webhookSecretArn, settings.secret);
    fn.addEnvironment(WEBHOOK_DELIVERY_ENV.queueUrl, this.queue.queueUrl);
    fn.addEnvironment(WEBHOOK_DELIVERY_ENV.queueArn, this.queue.queueArn);
    fn.addEnvironment(WEBHOOK_DELIVERY_ENV.subscriptionName, this.subscriptionName);
    // ReceiveMessage, DeleteMessage, ChangeMessageVisibility (the retry schedule), GetQueueAttributes.
    this.queue.grantConsumeMessages(fn);
    return fn;
  }

  /** Batches of queued events to the function, failed messages reported one by one. */
  private createQueueMapping(settings: WebhookSubscriptionSettings): lambda.EventSourceMapping {
    const mapping = new lambda.EventSourceMapping(this, 'QueueMapping', {
      target: this.deliveryFunction,
      eventSourceArn: this.queue.queueArn,
      batchSize: settings.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: settings.maxConcurrency,
    });
    Validations.of(mapping).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        "SQS event source mappings take no on-failure destination: failed messages go to the queue's own dead-letter queue (redrive policy, maxReceiveCount = delivery attempts).",
    });
    return mapping;
  }

  /**
   * Disabling the subscription = disabling this mapping. A separate policy: the mapping depends on the
   * function, so the function's default policy cannot name the mapping without a dependency cycle.
   */
  private allowDisablingOnGone(): void {
    const switchPolicy = new iam.Policy(this, 'DisableOnGonePolicy', {
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:UpdateEventSourceMapping'],
          resources: [this.eventSourceMapping.eventSourceMappingArn],
        }),
        new iam.PolicyStatement({ actions: ['lambda:ListEventSourceMappings'], resources: ['*'] }),
      ],
    });
    if (this.deliveryFunction.role) switchPolicy.attachToRole(this.deliveryFunction.role);
    Validations.of(switchPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'lambda:ListEventSourceMappings supports no resource-level permission; it only finds the mapping this function may update (UpdateEventSourceMapping is limited to that mapping).',
    });
  }

  private alarmName(suffix: string): string {
    return `${alarmNamePrefix(this.environmentName)}webhook-${this.subscriptionName}-${suffix}`;
  }

  /** The endpoint answered 410 Gone and the function disabled its mapping. */
  private createDisabledAlarm(): cloudwatch.Alarm {
    return atLeastAlarm(this, 'DisabledAlarm', {
      alarmName: this.alarmName('disabled'),
      alarmDescription: `The ${this.subscriptionName} endpoint answered 410 Gone: the subscription was disabled (its event source mapping). Fix the endpoint, then re-enable the mapping (docs/webhooks.md).`,
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'WebhookSubscriptionDisabled',
        dimensionsMap: { service: this.serviceName, Subscription: this.subscriptionName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
    });
  }

  /** Events that exhausted their delivery attempts. */
  private createDeadLetterAlarm(): cloudwatch.Alarm {
    return atLeastAlarm(this, 'DeadLetterAlarm', {
      alarmName: this.alarmName('dead-letters'),
      alarmDescription: `Events for ${this.subscriptionName} exhausted their ${MAX_DELIVERY_ATTEMPTS} delivery attempts and wait in the dead-letter queue (redrive: docs/webhooks.md).`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
    });
  }

  /** The oldest queued event is older than `maxAge` (endpoint failing or subscription disabled). */
  private createBacklogAlarm(maxAge: Duration): cloudwatch.Alarm {
    return atLeastAlarm(this, 'BacklogAlarm', {
      alarmName: this.alarmName('backlog'),
      alarmDescription: `The oldest event queued for ${this.subscriptionName} is older than ${maxAge.toHumanString()} (endpoint failing or subscription disabled). Queued events are lost after 14 days.`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(15),
        statistic: 'Maximum',
      }),
      threshold: maxAge.toSeconds(),
    });
  }
}

/** The findings of a function that is not invoked asynchronously (webhook delivery, sync now). */
export function acknowledgeFunctionFindings(fn: NutcacheFunction): void {
  fn.acknowledgeFindings(
    {
      id: 'Serverless-LambdaDLQ',
      reason:
        'Not invoked asynchronously: its failures stay in its SQS queue (with its own dead-letter queue) or are answered to the HTTP caller.',
    },
    {
      id: 'Serverless-LambdaAsyncFailureDestination',
      reason:
        'Not invoked asynchronously (SQS event source mapping or function URL): no async failure to route.',
    },
  );
}
