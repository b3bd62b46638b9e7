/**
 * The poller's custom CloudWatch metrics, named once so alarms and dashboard widgets cannot misspell them.
 *
 * The poller (functions/poller.ts) publishes them with Powertools EMF in the namespace `NutcacheCdc` and
 * adds the dimension `organizationGuid` to every metric of an invocation, so each metric exists once per
 * organization with the dimensions {service, organizationGuid}. There is no alarm per organization: the
 * service-wide alarms and graphs add them up with a CloudWatch Metrics Insights query, which
 * works for any number of organizations (plain metric math is limited to 10 metrics per alarm).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE, POLLER_SERVICE_NAME } from '../../shared/config/env.ts';

export { POLLER_SERVICE_NAME };

/** How polls ended (one of these per poll). */
export const POLL_OUTCOME_METRICS = [
  'PollSucceeded',
  'PollFailed',
  'PollBusy',
  'PollDeferred',
  'PollUnconfigured',
  'PollSkipped',
  'PollDeadline',
] as const;
/** Customer changes found, and mass deletions held back. */
export const CUSTOMER_CHANGE_METRICS = [
  'CustomersCreated',
  'CustomersUpdated',
  'CustomersDeleted',
  'CustomersSnapshot',
  'CustomersInvalid',
  'MassDeletionHeld',
] as const;
/** What became of the change events. */
export const EVENT_METRICS = [
  'EventsPublished',
  'EventsDeadLettered',
  'EventsTruncated',
  'EventsFailed',
] as const;
/** Requests sent to Nutcache, and its 429 answers. */
export const NUTCACHE_REQUEST_METRICS = ['NutcacheRequests', 'NutcacheThrottled'] as const;

export const POLLER_METRIC_NAMES = [
  ...POLL_OUTCOME_METRICS,
  ...CUSTOMER_CHANGE_METRICS,
  ...EVENT_METRICS,
  ...NUTCACHE_REQUEST_METRICS,
  'PollDurationMs',
  'OrganizationStale',
] as const;
export type PollerMetricName = (typeof POLLER_METRIC_NAMES)[number];

export type InsightsAggregate = 'SUM' | 'AVG' | 'MAX' | 'MIN' | 'COUNT';

export interface AggregateOptions {
  readonly aggregate?: InsightsAggregate;
  /** @default 5 minutes */
  readonly period?: Duration;
  readonly label?: string;
}

export class PollerMetrics {
  constructor(
    readonly serviceName: string = POLLER_SERVICE_NAME,
    readonly namespace: string = METRICS_NAMESPACE,
  ) {}

  /** The Metrics Insights query adding a metric up over every organization. */
  insightsQuery(name: PollerMetricName, aggregate: InsightsAggregate = 'SUM'): string {
    return `SELECT ${aggregate}(${name}) FROM SCHEMA("${this.namespace}", organizationGuid, service) WHERE service = '${this.serviceName}'`;
  }

  /** A poller metric over all organizations. */
  metric(name: PollerMetricName, options: AggregateOptions = {}): cloudwatch.MathExpression {
    const aggregate = options.aggregate ?? 'SUM';
    return new cloudwatch.MathExpression({
      expression: this.insightsQuery(name, aggregate),
      usingMetrics: {},
      period: options.period ?? Duration.minutes(5),
      label: options.label ?? (aggregate === 'SUM' ? name : `${name} (${aggregate.toLowerCase()})`),
    });
  }

  /** A poller metric of one organization. */
  organizationMetric(
    name: PollerMetricName,
    organizationGuid: string,
    options: cloudwatch.MetricOptions = {},
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: name,
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...options,
      dimensionsMap: { service: this.serviceName, organizationGuid },
    });
  }
}
