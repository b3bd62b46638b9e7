/** The dashboard: alarm states, then polls, changes, events, Nutcache requests, the function, the queues. */
import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  CUSTOMER_CHANGE_METRICS,
  EVENT_METRICS,
  NUTCACHE_REQUEST_METRICS,
  POLL_OUTCOME_METRICS,
  type PollerMetricName,
  type PollerMetrics,
} from '../constructs/poller-metrics.ts';

export interface DashboardProps {
  readonly environmentName: string;
  /** The alarm list itself (not a copy): an alarm added to it later still shows. */
  readonly alarms: cloudwatch.IAlarm[];
  readonly pollerMetrics: PollerMetrics;
  readonly poller: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  readonly pollFailureQueue: sqs.IQueue;
  readonly pollQueue: sqs.IQueue;
  readonly pollDeadLetterQueue: sqs.IQueue;
  /** The poller's log group: the "top stale organizations" query reads its structured lines. */
  readonly pollerLogGroup: logs.ILogGroup;
}

const graph = (title: string, metrics: cloudwatch.IMetric[], width = 8) =>
  new cloudwatch.GraphWidget({ title, left: metrics, width, height: 6 });

export function createDashboard(scope: Construct, props: DashboardProps): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    // Dashboard names are global to the account: the region keeps two regions' dashboards apart.
    dashboardName: `nutcache-cdc-${props.environmentName}-${Aws.REGION}`,
    defaultInterval: Duration.hours(24),
  });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 24, height: 3 }),
  );
  dashboard.addWidgets(...pollerGraphs(props.pollerMetrics));
  dashboard.addWidgets(...requestAndFunctionGraphs(props));
  dashboard.addWidgets(...queueAndOrganizationGraphs(props));
  dashboard.addWidgets(staleOrganizations(props));
  return dashboard;
}

function pollerGraphs(m: PollerMetrics): cloudwatch.IWidget[] {
  const metrics = (names: readonly PollerMetricName[]) => names.map((name) => m.metric(name));
  return [
    graph('Polls', metrics(POLL_OUTCOME_METRICS)),
    graph('Customer changes', metrics(CUSTOMER_CHANGE_METRICS)),
    graph('Events', metrics(EVENT_METRICS)),
  ];
}

function requestAndFunctionGraphs({ pollerMetrics: m, poller }: DashboardProps): cloudwatch.IWidget[] {
  return [
    graph(
      'Nutcache requests',
      NUTCACHE_REQUEST_METRICS.map((name) => m.metric(name)),
    ),
    graph('Poll duration (ms)', [
      m.metric('PollDurationMs', { aggregate: 'AVG' }),
      m.metric('PollDurationMs', { aggregate: 'MAX' }),
    ]),
    graph('Poller function', [
      poller.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      poller.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
      poller.metricDuration({ statistic: cloudwatch.Stats.p(99) }),
    ]),
  ];
}

function queueAndOrganizationGraphs(props: DashboardProps): cloudwatch.IWidget[] {
  return [
    graph(
      'Dead-letter queues',
      [
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'Unpublishable events' }),
        props.pollFailureQueue.metricApproximateNumberOfMessagesVisible({ label: 'Failed polls' }),
        props.pollDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'Dead poll messages' }),
      ],
      12,
    ),
    graph(
      'Poll queue',
      [
        props.pollQueue.metricApproximateNumberOfMessagesVisible({ label: 'Waiting polls' }),
        props.pollQueue.metricApproximateAgeOfOldestMessage({ label: 'Oldest waiting poll (s)' }),
      ],
      12,
    ),
  ];
}

/** The organizations longest without a successful poll, by name, from the poller's `organization stale` lines. */
function staleOrganizations(props: DashboardProps): cloudwatch.IWidget {
  return new cloudwatch.LogQueryWidget({
    title: 'Top stale organizations',
    logGroupNames: [props.pollerLogGroup.logGroupName],
    queryLines: [
      'fields organizationGuid, staleMinutes, outcome',
      "filter message = 'organization stale'",
      'stats max(staleMinutes) as minutesWithoutSuccess, latest(outcome) as lastOutcome by organizationGuid',
      'sort minutesWithoutSuccess desc',
      'limit 20',
    ],
    width: 24,
    height: 6,
  });
}
