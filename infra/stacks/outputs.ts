/** The stack's outputs: what an operator (and docs/deploy.md) needs after a deploy. */
import { CfnOutput, type Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

export interface OutputSources {
  readonly bus: events.IEventBus;
  readonly archive: events.Archive;
  readonly schemaRegistry: eventschemas.CfnRegistry;
  readonly table: dynamodb.ITable;
  readonly deadLetterQueue: sqs.IQueue;
  readonly pollFailureQueue: sqs.IQueue;
  readonly poller: lambda.IFunction;
  readonly dashboard: cloudwatch.Dashboard;
  readonly pollQueue: sqs.IQueue;
  readonly pollDeadLetterQueue: sqs.IQueue;
  readonly scheduleGroupName: string;
  /** Where `orgs add` creates organization secrets (docs/organizations.md). */
  readonly secretNamePrefix: string;
  readonly alarmTopic?: sns.ITopic;
}

export function addOutputs(stack: Stack, sources: OutputSources): void {
  const output = (id: string, value: string, description?: string) =>
    new CfnOutput(stack, id, { value, description });
  output('EventBusName', sources.bus.eventBusName, 'Event bus name');
  output('EventBusArn', sources.bus.eventBusArn, 'Event bus ARN');
  output('ArchiveName', sources.archive.archiveName, 'Replay from this archive');
  output('SchemaRegistryName', sources.schemaRegistry.attrRegistryName);
  output('TableName', sources.table.tableName);
  output('TableArn', sources.table.tableArn);
  output('DeadLetterQueueUrl', sources.deadLetterQueue.queueUrl, 'Events that could not be published');
  output(
    'PollFailureQueueUrl',
    sources.pollFailureQueue.queueUrl,
    'Poll invocations that failed (Scheduler DLQ and poller on-failure destination)',
  );
  output('PollerFunctionName', sources.poller.functionName);
  output('DashboardName', sources.dashboard.dashboardName);
  output('PollQueueUrl', sources.pollQueue.queueUrl, 'Poll messages (one per scheduled poll)');
  output(
    'PollDeadLetterQueueUrl',
    sources.pollDeadLetterQueue.queueUrl,
    'Poll messages that failed every receive',
  );
  output('ScheduleGroupName', sources.scheduleGroupName, "The organizations' schedules");
  output('SecretNamePrefix', sources.secretNamePrefix, 'Organization secrets are named <prefix><GUID>');
  if (sources.alarmTopic) output('AlarmTopicArn', sources.alarmTopic.topicArn);
}
