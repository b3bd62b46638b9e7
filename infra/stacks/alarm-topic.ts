/**
 * The alarm e-mail topic (only when `alarmEmail` is configured): KMS-encrypted, TLS only, and publishable by
 * CloudWatch for this account's alarms of this environment only.
 */
import { ArnFormat, Duration, RemovalPolicy, type Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { alarmNamePrefix } from '../constructs/alarms.ts';
import { sourceAccountIs, sourceArnIs } from '../constructs/conditions.ts';

const CLOUDWATCH = new iam.ServicePrincipal('cloudwatch.amazonaws.com');

export function createAlarmTopic(stack: Stack, environmentName: string, email: string): sns.Topic {
  const topic = new sns.Topic(stack, 'AlarmTopic', {
    displayName: `nutcache-cdc ${environmentName} alarms`,
    masterKey: alarmTopicKey(stack),
    enforceSSL: true,
  });
  // enforceSSL gives the topic a policy, which replaces SNS's default one: CloudWatch must be allowed
  // explicitly, and only for this account's alarms of this environment (they all share the prefix).
  topic.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowThisStacksAlarmsToPublish',
      principals: [CLOUDWATCH],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: sourceAccountIs(stack.account),
        ArnLike: sourceArnIs(environmentAlarmsArn(stack, environmentName)),
      },
    }),
  );
  subscribeByEmail(topic, email);
  return topic;
}

/** The topic's key: CloudWatch alarms of this account may use it to publish. */
function alarmTopicKey(stack: Stack): kms.Key {
  const key = new kms.Key(stack, 'AlarmTopicKey', {
    description: 'Encrypts the nutcache-cdc alarm topic; CloudWatch alarms may use it to publish',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublish',
      principals: [CLOUDWATCH],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: sourceAccountIs(stack.account) },
    }),
  );
  return key;
}

/** The ARN pattern of every alarm of the environment (`arn:…:alarm:nutcache-cdc-<env>-*`). */
function environmentAlarmsArn(stack: Stack, environmentName: string): string {
  return stack.formatArn({
    service: 'cloudwatch',
    resource: 'alarm',
    resourceName: `${alarmNamePrefix(environmentName)}*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

function subscribeByEmail(topic: sns.Topic, email: string): void {
  topic.addSubscription(new subscriptions.EmailSubscription(email));
  const subscription = topic.node.children.find((child) => child instanceof sns.Subscription);
  if (subscription) {
    Validations.of(subscription).acknowledge({
      id: 'Serverless-SNSRedrivePolicy',
      reason:
        'An alarm e-mail that cannot be delivered has no better place to go; the alarm state stays visible in CloudWatch.',
    });
  }
}
