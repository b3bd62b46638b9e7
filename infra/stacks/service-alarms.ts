/** The poller's service-wide alarms: failed polls, held mass deletions, Nutcache throttling, function errors, dead letters. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { alarmNamePrefix, atLeastAlarm, queueNotEmptyAlarm } from '../constructs/alarms.ts';
import type { PollerMetrics } from '../constructs/poller-metrics.ts';

export interface ServiceAlarmsProps {
  readonly environmentName: string;
  readonly pollerMetrics: PollerMetrics;
  readonly poller: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly pollFailureQueue: sqs.IQueue;
  /** Nutcache 429 answers in 15 minutes that fire the throttling alarm. */
  readonly throttledRequestsThreshold: number;
}

/** The alarms, in the order the dashboard shows them. */
export function createServiceAlarms(scope: Construct, props: ServiceAlarmsProps): cloudwatch.Alarm[] {
  const prefix = alarmNamePrefix(props.environmentName);
  const m = props.pollerMetrics;
  const fifteenMinutes = Duration.minutes(15);
  return [
    atLeastAlarm(scope, 'PollFailedAlarm', {
      alarmName: `${prefix}poll-failures`,
      alarmDescription: 'A poll of Nutcache failed (see the poller logs for the organization and the cause).',
      metric: m.metric('PollFailed', { period: fifteenMinutes }),
    }),
    atLeastAlarm(scope, 'StaleOrganizationsAlarm', {
      alarmName: `${prefix}stale-organizations`,
      alarmDescription:
        'At least one organization had no successful poll for staleAfterIntervals of its intervals: the dashboard\'s "Top stale organizations" and `nutcache-cdc orgs list` name them.',
      metric: m.metric('OrganizationStale', { period: fifteenMinutes }),
    }),
    atLeastAlarm(scope, 'MassDeletionAlarm', {
      alarmName: `${prefix}mass-deletion-held`,
      alarmDescription:
        'The poller held back a mass deletion (more customers vanished than the guard allows). Check Nutcache, then allow it with a poll {"allowMassDeletion": true}.',
      metric: m.metric('MassDeletionHeld', { period: Duration.minutes(5) }),
    }),
    atLeastAlarm(scope, 'ThrottledAlarm', {
      alarmName: `${prefix}nutcache-throttling`,
      alarmDescription: `Nutcache answered 429 (rate limited) at least ${props.throttledRequestsThreshold} times in 15 minutes: lower the poll frequency or the number of organizations per API key.`,
      metric: m.metric('NutcacheThrottled', { period: fifteenMinutes }),
      threshold: props.throttledRequestsThreshold,
    }),
    atLeastAlarm(scope, 'PollerErrorsAlarm', {
      alarmName: `${prefix}poller-errors`,
      alarmDescription: 'The poller function failed (uncaught error or timeout).',
      metric: props.poller.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
    }),
    queueNotEmptyAlarm(scope, 'EventDeadLetterAlarm', props.deadLetterQueue, {
      alarmName: `${prefix}event-dead-letters`,
      alarmDescription: 'The queue of events that could not be published is not empty.',
    }),
    queueNotEmptyAlarm(scope, 'PollFailureQueueAlarm', props.pollFailureQueue, {
      alarmName: `${prefix}poll-failure-queue`,
      alarmDescription: 'The queue of poll invocations that failed every attempt is not empty.',
    }),
  ];
}
