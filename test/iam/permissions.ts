/**
 * The authorizations a deployed stack needs, as IAM requests with the policies IAM would evaluate them
 * against (all taken from the template):
 * - each call a function made (recorded by the stand-in), by the function's execution role;
 * - what Lambda does with that role for the function: write its logs, send traces, poll its SQS event
 *   source, send a failed asynchronous invocation to its on-failure destination;
 * - EventBridge Scheduler assuming its role and sending to the poll queue (and its dead-letter queue);
 * - EventBridge handing events to each rule target (resource policy, or a role it assumes) and to the
 *   target's dead-letter queue;
 * - CloudWatch alarms publishing to the alarm topic (topic policy and its KMS key policy);
 * - an anonymous caller reaching the "sync now" function URL.
 */
import type { RecordedCall } from '../support/aws-recorder.ts';
import { ACCOUNT, type DeployedStack, type PolicyDocument, REGION } from '../support/cfn-template.ts';
import type { Caller, IamPolicies, IamRequest } from '../support/iam-evaluator.ts';
import type { LambdaFunction } from './harness.ts';

export interface Check {
  /** Who acts: a function's logical id, `scheduler`, `eventbridge`, `cloudwatch`, `public`. */
  readonly subject: string;
  /** What it is part of, for messages (a flow, "platform", a rule name…). */
  readonly origin: string;
  readonly request: IamRequest;
  readonly policies: IamPolicies;
}

const roleCaller = (fn: LambdaFunction): Caller => ({
  kind: 'role',
  roleArn: fn.roleArn,
  sessionName: fn.name,
});

/**
 * A KMS key outside the template is assumed to have the default key policy (the account may use IAM
 * policies to allow access to it); any other resource outside the template has no resource policy here.
 */
function resourcePolicyOf(stack: DeployedStack, arn: string): PolicyDocument | undefined {
  const policy = stack.resourcePolicy(arn);
  if (policy || arn.split(':')[2] !== 'kms') return policy;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

function asRole(
  stack: DeployedStack,
  fn: LambdaFunction,
  origin: string,
  action: string,
  resource: string,
  context = {},
): Check {
  return {
    subject: fn.logicalId,
    origin,
    request: { caller: roleCaller(fn), action, resource, context },
    policies: { identity: stack.identityPolicies(fn.roleId), resource: resourcePolicyOf(stack, resource) },
  };
}

/** Every call the functions made through the stand-in, each by the function that signed it. */
export function recordedChecks(
  stack: DeployedStack,
  functions: readonly LambdaFunction[],
  calls: readonly RecordedCall[],
): Check[] {
  return calls.map((call) => {
    const fn = functions.find((f) => f.accessKeyId === call.caller);
    if (!fn) throw new Error(`a call signed by an unknown key: ${call.caller} ${call.action}`);
    return asRole(stack, fn, 'recorded', call.action, call.resource, call.context);
  });
}

/** What Lambda itself does with the function's execution role. */
export function platformChecks(stack: DeployedStack, fn: LambdaFunction): Check[] {
  const props = stack.resource(fn.logicalId).Properties ?? {};
  const checks: Check[] = [];
  const logGroup = (props.LoggingConfig as { LogGroup?: unknown } | undefined)?.LogGroup;
  const logGroupName = logGroup === undefined ? `/aws/lambda/${fn.name}` : stack.resolveString(logGroup);
  const stream = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${logGroupName}:log-stream:2026/11/29/[$LATEST]0123456789abcdef`;
  checks.push(asRole(stack, fn, 'platform: logs', 'logs:CreateLogStream', stream));
  checks.push(asRole(stack, fn, 'platform: logs', 'logs:PutLogEvents', stream));
  if ((props.TracingConfig as { Mode?: string } | undefined)?.Mode === 'Active') {
    checks.push(asRole(stack, fn, 'platform: tracing', 'xray:PutTraceSegments', '*'));
    checks.push(asRole(stack, fn, 'platform: tracing', 'xray:PutTelemetryRecords', '*'));
  }
  for (const [, mapping] of stack.ofType('AWS::Lambda::EventSourceMapping')) {
    if (stack.resolveString(mapping.Properties?.FunctionName) !== fn.name) continue;
    const queue = stack.resolveString(mapping.Properties?.EventSourceArn);
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
      checks.push(asRole(stack, fn, 'platform: event source mapping', action, queue));
    }
  }
  for (const [, config] of stack.ofType('AWS::Lambda::EventInvokeConfig')) {
    if (stack.resolveString(config.Properties?.FunctionName) !== fn.name) continue;
    const destination = (
      config.Properties?.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined
    )?.OnFailure;
    if (destination)
      checks.push(
        asRole(
          stack,
          fn,
          'platform: on-failure destination',
          'sqs:SendMessage',
          stack.resolveString(destination.Destination),
        ),
      );
  }
  return checks;
}

/** The action a service performs on a target, by the target's ARN. */
function targetAction(targetArn: string): string {
  const service = targetArn.split(':')[2];
  if (service === 'sqs') return 'sqs:SendMessage';
  if (service === 'lambda') return 'lambda:InvokeFunction';
  if (service === 'states') return 'states:StartExecution';
  if (service === 'events' && targetArn.includes(':api-destination/')) return 'events:InvokeApiDestination';
  if (service === 'events') return 'events:PutEvents';
  throw new Error(`no modelled action for target ${targetArn}`);
}

interface Reach {
  readonly stack: DeployedStack;
  readonly subject: string;
  readonly origin: string;
  readonly caller: Extract<Caller, { kind: 'service' }>;
  /** The role the service assumes for the target, when it uses one. */
  readonly roleArn?: unknown;
}

/** The service acting on `target` directly (resource policy) or as the role (identity + resource policy). */
function actOn({ stack, subject, origin, caller, roleArn }: Reach, target: string): Check {
  const request = { action: targetAction(target), resource: target };
  if (roleArn === undefined) {
    return {
      subject,
      origin,
      request: { ...request, caller },
      policies: { resource: stack.resourcePolicy(target) },
    };
  }
  const roleId = stack.referencedId(roleArn);
  const session = caller.service.split('.')[0] ?? 'service';
  return {
    subject,
    origin,
    request: { ...request, caller: { kind: 'role', roleArn: stack.roleArn(roleId), sessionName: session } },
    policies: { identity: stack.identityPolicies(roleId), resource: stack.resourcePolicy(target) },
  };
}

/** A service reaching `target`: directly, or by assuming the role first (trust policy). */
function serviceReaches(reach: Reach, target: string): Check[] {
  if (reach.roleArn === undefined) return [actOn(reach, target)];
  const roleId = reach.stack.referencedId(reach.roleArn);
  const assume: Check = {
    subject: reach.subject,
    origin: reach.origin,
    request: { caller: reach.caller, action: 'sts:AssumeRole', resource: reach.stack.roleArn(roleId) },
    policies: { resource: reach.stack.trustPolicy(roleId) },
  };
  return [assume, actOn(reach, target)];
}

interface Target {
  readonly Arn: unknown;
  readonly RoleArn?: unknown;
  readonly DeadLetterConfig?: { Arn: unknown };
}

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function onlyResource(stack: DeployedStack, type: string, prefix: string): string {
  const found = stack.ofType(type).filter(([id]) => id.startsWith(prefix));
  if (found.length !== 1 || !found[0])
    throw new Error(`expected one ${type} ${prefix}*, found ${found.length}`);
  return found[0][0];
}

/**
 * EventBridge Scheduler, for every organization's schedule (created at run time in the stack's group, with
 * the stack's role: shared/registry/schedules.ts): assume the role, send to the poll queue, and (as the
 * role) to the dead-letter queue.
 */
export function schedulerChecks(stack: DeployedStack): Check[] {
  const groupId = onlyResource(stack, 'AWS::Scheduler::ScheduleGroup', 'ScheduleGroup');
  const group = stack.physicalName(groupId);
  const sourceArn = `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${group}`;
  const caller = { kind: 'service', service: 'scheduler.amazonaws.com', sourceArn } as const;
  const roleArn = { 'Fn::GetAtt': [onlyResource(stack, 'AWS::IAM::Role', 'SchedulerRole'), 'Arn'] };
  const reach = { stack, subject: 'scheduler', origin: `schedule group ${group}`, caller, roleArn };
  const pollQueue = stack.getAtt(onlyResource(stack, 'AWS::SQS::Queue', 'PollQueue'), 'Arn');
  const deadLetters = stack.getAtt(onlyResource(stack, 'AWS::SQS::Queue', 'PollFailureQueue'), 'Arn');
  return [...serviceReaches(reach, pollQueue), actOn(reach, deadLetters)];
}

/** Whether the resource behind an ARN is managed elsewhere (its resource policy is not in this template). */
export function isExternalQueue(stack: DeployedStack, arn: string): boolean {
  return (
    arn.split(':')[2] === 'sqs' &&
    !stack.ofType('AWS::SQS::Queue').some(([id]) => stack.getAtt(id, 'Arn') === arn)
  );
}

/** EventBridge handing each rule's events to its targets and their dead-letter queues. */
export function ruleTargetChecks(stack: DeployedStack): { checks: Check[]; unmodelled: string[] } {
  const checks: Check[] = [];
  const unmodelled: string[] = [];
  for (const [id, rule] of stack.ofType('AWS::Events::Rule')) {
    const caller = {
      kind: 'service',
      service: 'events.amazonaws.com',
      sourceArn: stack.getAtt(id, 'Arn'),
    } as const;
    const reach = { stack, subject: 'eventbridge', origin: id, caller };
    for (const target of (rule.Properties?.Targets ?? []) as Target[]) {
      const arn = stack.resolveString(target.Arn);
      if (isExternalQueue(stack, arn)) unmodelled.push(`${id} → ${arn} (the queue's own policy)`);
      else checks.push(...serviceReaches({ ...reach, roleArn: target.RoleArn }, arn));
      // EventBridge itself (not the target's role) sends undeliverable events to the dead-letter queue.
      if (target.DeadLetterConfig)
        checks.push(actOn(reach, stack.resolveString(target.DeadLetterConfig.Arn)));
    }
  }
  return { checks, unmodelled };
}

/** CloudWatch alarms publishing to SNS topics of the stack (and using the topic's KMS key). */
export function alarmChecks(stack: DeployedStack): Check[] {
  const topics = new Map(stack.ofType('AWS::SNS::Topic').map(([id, topic]) => [stack.ref(id), topic]));
  return stack.ofType('AWS::CloudWatch::Alarm').flatMap(([id, alarm]) => {
    const actions = ['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap((p) =>
      ((alarm.Properties?.[p] ?? []) as unknown[]).map((a) => stack.resolveString(a)),
    );
    const caller = {
      kind: 'service',
      service: 'cloudwatch.amazonaws.com',
      sourceArn: stack.getAtt(id, 'Arn'),
    } as const;
    return [...new Set(actions)].flatMap((topicArn) => {
      const topic = topics.get(topicArn);
      if (!topic) return [];
      const check = (action: string, resource: string): Check => ({
        subject: 'cloudwatch',
        origin: id,
        request: { caller, action, resource },
        policies: { resource: stack.resourcePolicy(resource) },
      });
      const key = topic.Properties?.KmsMasterKeyId;
      const keyArn = key === undefined ? undefined : stack.getAtt(stack.referencedId(key), 'Arn');
      return [
        check('sns:Publish', topicArn),
        ...(keyArn ? [check('kms:GenerateDataKey', keyArn), check('kms:Decrypt', keyArn)] : []),
      ];
    });
  });
}

/** An unauthenticated caller reaching each function URL with auth type NONE. */
export function functionUrlChecks(stack: DeployedStack): Check[] {
  return stack.ofType('AWS::Lambda::Url').flatMap(([id, url]): Check[] => {
    const target = stack.resolveString(url.Properties?.TargetFunctionArn);
    const policies = { resource: stack.resourcePolicy(target) };
    const authType = String(url.Properties?.AuthType);
    return [
      {
        subject: 'public',
        origin: id,
        request: {
          caller: { kind: 'anonymous' } as const,
          action: 'lambda:InvokeFunctionUrl',
          resource: target,
          context: { 'lambda:FunctionUrlAuthType': authType },
        },
        policies,
      },
      {
        subject: 'public',
        origin: id,
        request: {
          caller: { kind: 'anonymous' } as const,
          action: 'lambda:InvokeFunction',
          resource: target,
          context: { 'lambda:InvokedViaFunctionUrl': 'true' },
        },
        policies,
      },
    ];
  });
}
