/** Alarms the stack and its constructs share. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** Fires as soon as a queue that should stay empty (a dead-letter queue) holds a message. */
export function queueNotEmptyAlarm(
  scope: Construct,
  id: string,
  queue: sqs.IQueue,
  props: { readonly alarmName: string; readonly alarmDescription: string },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    metric: queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
