/**
 * The poller's custom CloudWatch metrics (Powertools EMF, namespace `NutcacheCdc`, dimension `service`),
 * named once so alarms and dashboard widgets cannot misspell them.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE } from './nutcache-function.ts';

export const POLLER_METRIC_NAMES = [
  'PollSucceeded',
  'PollFailed',
  'PollBusy',
  'PollDeferred',
  'CustomersCreated',
  'CustomersUpdated',
  'CustomersDeleted',
  'CustomersInvalid',
  'MassDeletionHeld',
  'EventsPublished',
  'EventsDeadLettered',
  'EventsTruncated',
  'NutcacheRequests',
  'NutcacheThrottled',
  'PollDurationMs',
] as const;
export type PollerMetricName = (typeof POLLER_METRIC_NAMES)[number];

export class PollerMetrics {
  constructor(
    /** The Powertools service name of the poller (its `service` dimension). */
    readonly serviceName: string,
    readonly namespace: string = METRICS_NAMESPACE,
  ) {}

  /** A poller metric for all organizations. */
  metric(name: PollerMetricName, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: name,
      dimensionsMap: { service: this.serviceName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...options,
    });
  }

  /** A poller metric for one organization (the poller emits these with an `organizationGuid` dimension). */
  organizationMetric(
    name: PollerMetricName,
    organizationGuid: string,
    options: cloudwatch.MetricOptions = {},
  ): cloudwatch.Metric {
    return this.metric(name, {
      ...options,
      dimensionsMap: { service: this.serviceName, organizationGuid, ...options.dimensionsMap },
    });
  }
}
