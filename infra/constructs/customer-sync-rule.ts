/**
 * `CustomerSyncRule`: a CRM sync rule (shared/rules/model.ts) compiled to an EventBridge rule with a
 * content-filter pattern on our bus, and one target: a signed webhook (through a `WebhookSubscription`), an
 * SQS queue, a Lambda function, a Step Functions state machine or an EventBridge API destination. The
 * pattern is checked against EventBridge's 2,048-character limit at synth, with the rule named in the error.
 *
 * `addSyncRulesFromSpecs` does the same for the rules of a rules file (targets given by ARN); rules sending to
 * the same webhook URL and secret share one subscription.
 */
import { Annotations, ArnFormat, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type CrmTarget, isCrmTarget } from '../../shared/crm/model.ts';
import { type CrmDelivery, crmRulePattern } from '../../shared/crm/transformer.ts';
import {
  compileRulePattern,
  type EventPattern,
  MAX_PATTERN_LENGTH,
  patternJson,
} from '../../shared/rules/compile.ts';
import { compileInputTransformer, InputTransformerError } from '../../shared/rules/input-transformer.ts';
import { DEFAULT_CHANGE_TYPES, type SyncRuleFilter, type SyncRuleSpec } from '../../shared/rules/model.ts';
import { alarmNamePrefix, queueNotEmptyAlarm } from './alarms.ts';
import { onlyForResource } from './conditions.ts';
import { CrmDestination, type CrmRequestPlan, crmRequestPlans } from './crm-target.ts';
import { importSecretByArn } from './imported-secret.ts';
import { terminalQueue } from './queues.ts';
import { WebhookSubscription } from './webhook-subscription.ts';

/** Where a rule's events go (code-declared rules use CDK objects). */
export type SyncRuleTarget =
  | { readonly kind: 'webhook'; readonly subscription: WebhookSubscription }
  | { readonly kind: 'webhook'; readonly url: string; readonly secret: secretsmanager.ISecret }
  | { readonly kind: 'sqs'; readonly queue: sqs.IQueue }
  | { readonly kind: 'lambda'; readonly function: lambda.IFunction }
  | { readonly kind: 'stepFunctions'; readonly stateMachine: sfn.IStateMachine }
  | { readonly kind: 'apiDestination'; readonly apiDestination: events.IApiDestination }
  /** A HubSpot or Salesforce upsert: connection, API destination and input transformer (crm-target.ts). */
  | { readonly kind: 'crm'; readonly target: CrmTarget; readonly rateLimitPerSecond?: number }
  /** One CRM request on an API destination (what a `crm` target becomes, one rule per distinct request). */
  | {
      readonly kind: 'apiRequest';
      readonly apiDestination: events.IApiDestination;
      readonly delivery: CrmDelivery;
    };

export interface CustomerSyncRuleProps extends SyncRuleFilter {
  readonly eventBus: events.IEventBus;
  /** The deployment's environment (`dev`, `prod`…): part of alarm names and metric service names. */
  readonly environmentName: string;
  /** `source` of our events. @default nutcache.customers */
  readonly eventSource?: string;
  readonly target: SyncRuleTarget;
  /** @default true */
  readonly enabled?: boolean;
  /** Alarm notifications: the target dead-letter alarm and those of a webhook subscription this rule creates. */
  readonly alarmAction?: cloudwatch.IAlarmAction;
  /** How long EventBridge retries a failing target before dead-lettering. @default 24 hours */
  readonly maxEventAge?: Duration;
}

/** The props with every default filled in ({@link withDefaults}). */
interface CustomerSyncRuleSettings extends CustomerSyncRuleProps {
  readonly description: string;
  readonly enabled: boolean;
  readonly maxEventAge: Duration;
}

/** The retry policy's MaximumEventAgeInSeconds that EventBridge accepts. */
const MIN_EVENT_AGE_SECONDS = 60;
const MAX_EVENT_AGE_SECONDS = 86_400;

/** Fills in the optional props of a rule (the event source's default is the pattern compiler's). */
function withDefaults(props: CustomerSyncRuleProps): CustomerSyncRuleSettings {
  const maxEventAge = props.maxEventAge ?? Duration.hours(24);
  const seconds = maxEventAge.isUnresolved() ? undefined : maxEventAge.toSeconds();
  if (seconds !== undefined && (seconds < MIN_EVENT_AGE_SECONDS || seconds > MAX_EVENT_AGE_SECONDS)) {
    throw new Error(
      `sync rule '${props.name}': maxEventAge must be between 60 seconds and 24 hours (EventBridge's limits); got ${seconds} s`,
    );
  }
  return {
    ...props,
    description: props.description ?? `nutcache-cdc sync rule ${props.name}`,
    enabled: props.enabled ?? true,
    maxEventAge,
  };
}

/** EventBridge's retries of a failing target: its maximum, so `maxEventAge` is what ends them. */
const TARGET_RETRY_ATTEMPTS = 185;

export class CustomerSyncRule extends Construct {
  readonly rule: events.Rule;
  /** The compiled pattern (also what `nutcache-cdc rules test` evaluates). */
  readonly eventPattern: EventPattern;
  /** Events EventBridge could not hand to the target (permissions, throttling past maxEventAge). */
  readonly targetDeadLetterQueue: sqs.Queue;
  /** Fires as soon as an event waits in `targetDeadLetterQueue`. */
  readonly targetDeadLetterAlarm: cloudwatch.Alarm;
  /** The webhook subscription, for webhook targets. */
  readonly subscription?: WebhookSubscription;
  /** The EventBridge rule's name. */
  readonly ruleName: string;
  /** The rule's ARN, built from its name (usable where a reference to the rule would make a cycle). */
  readonly ruleArn: string;
  /** A CRM target's connection and API destinations. */
  readonly crm?: CrmDestination;
  /** A CRM target's rule for deletions, when they send a request of their own (`onDelete`). */
  readonly deletionRule?: CustomerSyncRule;

  constructor(scope: Construct, id: string, props: CustomerSyncRuleProps) {
    super(scope, id);
    if (props.target.kind === 'crm') this.crm = crmDestination(this, props.name, props.target);
    const [primary, ...others] = this.crm ? crmRules(this.crm, props) : [];
    const settings = withDefaults(primary ? { ...props, ...primary } : props);
    // A CRM request's rule has the pattern local delivery evaluates (truncated events excluded).
    const compile = settings.target.kind === 'apiRequest' ? crmRulePattern : compileRulePattern;
    this.eventPattern = compile(settings, { eventSource: props.eventSource });
    const json = patternJson(this.eventPattern);
    this.checkPatternLength(settings.name, json);
    // A fixed (generated, stack-unique) name: a target role's trust policy names the rule's ARN, which
    // could not refer to the rule itself without a dependency cycle.
    this.ruleName = Names.uniqueResourceName(this, {
      maxLength: 64,
      separator: '-',
      allowedSpecialCharacters: '-_.',
    });
    this.rule = this.createRule(settings, json);
    this.targetDeadLetterQueue = terminalQueue(this, 'TargetDeadLetterQueue', {
      noDeadLetterQueue: 'This queue is the rule target dead-letter queue (terminal).',
      noRedrivePolicy: 'This queue is itself a dead-letter store (terminal).',
    });
    this.targetDeadLetterAlarm = queueNotEmptyAlarm(
      this,
      'TargetDeadLetterAlarm',
      this.targetDeadLetterQueue,
      {
        alarmName: `${alarmNamePrefix(settings.environmentName)}rule-${settings.name}-target-dead-letters`,
        alarmDescription: `EventBridge could not hand events of sync rule ${settings.name} to its target (permissions, throttling past the maximum event age); they wait in the rule's target dead-letter queue (docs/sync-rules.md).`,
      },
    );
    if (settings.alarmAction) this.targetDeadLetterAlarm.addAlarmAction(settings.alarmAction);
    this.ruleArn = Stack.of(this).formatArn({
      service: 'events',
      resource: 'rule',
      resourceName: `${settings.eventBus.eventBusName}/${this.ruleName}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    this.subscription = this.addTarget(settings);
    if (others[0]) {
      this.deletionRule = new CustomerSyncRule(this, 'Deletions', {
        ...props,
        ...others[0],
        name: `${props.name}-deleted`,
        description: `${settings.description} (deletions)`,
      });
    }
  }

  /** Refuses (at synth) a pattern longer than EventBridge accepts, naming the rule. */
  private checkPatternLength(ruleName: string, json: string): void {
    this.node.addValidation({
      validate: () =>
        json.length > MAX_PATTERN_LENGTH
          ? [
              `sync rule '${ruleName}': its event pattern is ${json.length} characters; EventBridge allows at most ${MAX_PATTERN_LENGTH}. Split it into several rules or shorten its value lists.`,
            ]
          : [],
    });
  }

  private createRule(settings: CustomerSyncRuleSettings, patternJsonText: string): events.Rule {
    const rule = new events.Rule(this, 'Rule', {
      ruleName: this.ruleName,
      eventBus: settings.eventBus,
      description: settings.description,
      enabled: settings.enabled,
      eventPattern: { source: this.eventPattern.source as string[] },
    });
    // The pattern as one JSON string: CloudFormation rejects null values in an object pattern, and the
    // string is exactly what the length check measured.
    (rule.node.defaultChild as events.CfnRule).addPropertyOverride('EventPattern', patternJsonText);
    return rule;
  }

  /** Connects the target; returns the webhook subscription of a webhook target. */
  private addTarget(settings: CustomerSyncRuleSettings): WebhookSubscription | undefined {
    const targetProps = {
      deadLetterQueue: this.targetDeadLetterQueue,
      maxEventAge: settings.maxEventAge,
      retryAttempts: TARGET_RETRY_ATTEMPTS,
    };
    const target = settings.target;
    switch (target.kind) {
      case 'webhook': {
        const subscription =
          'subscription' in target ? target.subscription : this.createWebhook(settings, target);
        this.rule.addTarget(new targets.SqsQueue(subscription.queue, targetProps));
        return subscription;
      }
      case 'sqs':
        this.rule.addTarget(new targets.SqsQueue(target.queue, targetProps));
        return undefined;
      case 'lambda':
        this.rule.addTarget(new targets.LambdaFunction(target.function, targetProps));
        return undefined;
      case 'stepFunctions':
        this.rule.addTarget(
          new targets.SfnStateMachine(target.stateMachine, { ...targetProps, role: this.targetRole() }),
        );
        return undefined;
      case 'apiDestination':
        this.rule.addTarget(
          new targets.ApiDestination(target.apiDestination, { ...targetProps, eventRole: this.targetRole() }),
        );
        return undefined;
      case 'apiRequest':
        this.rule.addTarget(
          new targets.ApiDestination(target.apiDestination, {
            ...targetProps,
            eventRole: this.targetRole(),
            event: new InputTransformerInput(target.delivery.inputTransformer),
            headerParameters: { ...target.delivery.headers },
            ...(target.delivery.pathParameterValues
              ? { pathParameterValues: [...target.delivery.pathParameterValues] }
              : {}),
          }),
        );
        return undefined;
      case 'crm':
        throw new Error(`sync rule '${settings.name}': a CRM target is planned into API requests first`);
    }
  }

  /** This rule's own webhook subscription, named after the rule. */
  private createWebhook(
    settings: CustomerSyncRuleSettings,
    target: { readonly url: string; readonly secret: secretsmanager.ISecret },
  ): WebhookSubscription {
    return new WebhookSubscription(this, 'Webhook', {
      url: target.url,
      secret: target.secret,
      subscriptionName: settings.name,
      environmentName: settings.environmentName,
      alarmAction: settings.alarmAction,
    });
  }

  /** The role EventBridge assumes to reach the target: only for this rule of this account (confused deputy). */
  private targetRole(): iam.Role {
    return new iam.Role(this, 'TargetRole', {
      description: `Assumed by EventBridge to deliver the events of sync rule ${this.ruleName}`,
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: onlyForResource(Stack.of(this).account, this.ruleArn),
      }),
    });
  }
}

/** A CRM target's connection and API destinations, named after the rule. */
function crmDestination(
  scope: Construct,
  ruleName: string,
  target: Extract<SyncRuleTarget, { kind: 'crm' }>,
): CrmDestination {
  return new CrmDestination(scope, 'Crm', {
    target: target.target,
    ruleName,
    rateLimitPerSecond: target.rateLimitPerSecond,
  });
}

/** The rules of a CRM target: one per distinct request (upserts; deletions with `onDelete`). */
function crmRules(
  destination: CrmDestination,
  props: CustomerSyncRuleProps,
): { readonly changeTypes: CrmRequestPlan['changeTypes']; readonly target: SyncRuleTarget }[] {
  if (props.target.kind !== 'crm') return [];
  const plans = crmRequestPlans(props.target.target, props.changeTypes ?? DEFAULT_CHANGE_TYPES);
  if (plans.length === 0) {
    throw new Error(
      `sync rule '${props.name}': its CRM target sends no request for its change types (deletions are ignored unless onDelete sets properties)`,
    );
  }
  for (const plan of plans) checkTransformer(props.name, plan.delivery);
  return plans.map((plan) => ({
    changeTypes: plan.changeTypes,
    target: {
      kind: 'apiRequest',
      apiDestination: destination.destinationFor(plan.delivery),
      delivery: plan.delivery,
    },
  }));
}

/** Refuses at synth an input transformer EventBridge would refuse (e.g. a template over 8,192 characters). */
function checkTransformer(ruleName: string, delivery: CrmDelivery): void {
  try {
    compileInputTransformer(delivery.inputTransformer);
  } catch (error) {
    if (!(error instanceof InputTransformerError)) throw error;
    throw new Error(`sync rule '${ruleName}': ${error.message}`);
  }
}

/** An input transformer passed to EventBridge exactly as written (InputPathsMap and InputTemplate). */
class InputTransformerInput extends events.RuleTargetInput {
  constructor(private readonly transformer: CrmDelivery['inputTransformer']) {
    super();
  }

  bind(): events.RuleTargetInputProperties {
    const paths = this.transformer.inputPathsMap;
    return {
      // A template of constants (a deletion's) has no variables: no empty map.
      ...(Object.keys(paths).length > 0 ? { inputPathsMap: { ...paths } } : {}),
      inputTemplate: this.transformer.inputTemplate,
    };
  }
}

export interface SyncRulesFromSpecsProps {
  readonly rules: readonly SyncRuleSpec[];
  readonly eventBus: events.IEventBus;
  /** The deployment's environment (`dev`, `prod`…): part of alarm names and metric service names. */
  readonly environmentName: string;
  readonly eventSource?: string;
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

function connectionName(arn: string): string {
  // arn:aws:events:<region>:<account>:connection/<name>/<uuid>
  return arn.split(':').at(-1)?.split('/')[1] ?? 'connection';
}

/** Creates the rules of a rules file; webhook rules with the same URL and secret share a subscription. */
export function addSyncRulesFromSpecs(scope: Construct, props: SyncRulesFromSpecsProps): CustomerSyncRule[] {
  const webhooks = sharedWebhooks(scope, props);
  return props.rules.map((spec) => {
    const { target: targetSpec, ...filter } = spec;
    const target =
      targetSpec.type === 'webhook'
        ? webhooks(spec.name, targetSpec)
        : importTarget(scope, spec.name, targetSpec);
    const rule = new CustomerSyncRule(scope, `SyncRule-${spec.name}`, {
      ...filter,
      eventBus: props.eventBus,
      environmentName: props.environmentName,
      target,
      // An empty source, like none, means the compiler's default.
      ...(props.eventSource ? { eventSource: props.eventSource } : {}),
      alarmAction: props.alarmAction,
    });
    if (targetSpec.type === 'sqs') warnAboutQueuePolicy(rule, spec.name, targetSpec.queueArn);
    const namedByArn = targetSpec.type !== 'webhook' && !isCrmTarget(targetSpec);
    if (namedByArn && Token.isUnresolved(Stack.of(scope).account)) {
      Annotations.of(rule.rule).acknowledgeWarning(
        '@aws-cdk/aws-events:ruleUnresolvedEnvironment',
        'A target named by ARN in a rules file is expected in the account and region the stack deploys to (docs/sync-rules.md).',
      );
    }
    return rule;
  });
}

type TargetSpec = SyncRuleSpec['target'];

/**
 * The webhook target of a rule: one subscription per URL and secret, created (with its imported secret) by
 * the first rule that sends there and named after it.
 */
function sharedWebhooks(
  scope: Construct,
  props: SyncRulesFromSpecsProps,
): (ruleName: string, spec: Extract<TargetSpec, { type: 'webhook' }>) => SyncRuleTarget {
  const subscriptions = new Map<string, WebhookSubscription>();
  return (ruleName, spec) => {
    const key = `${spec.url} ${spec.secretArn}`;
    let subscription = subscriptions.get(key);
    if (!subscription) {
      const number = subscriptions.size + 1;
      subscription = new WebhookSubscription(scope, `WebhookSubscription${number}`, {
        url: spec.url,
        secret: importSecretByArn(scope, `WebhookSecret${number}`, spec.secretArn),
        subscriptionName: ruleName,
        environmentName: props.environmentName,
        alarmAction: props.alarmAction,
      });
      subscriptions.set(key, subscription);
    }
    return { kind: 'webhook', subscription };
  };
}

/** A target named by ARN in a rules file, imported under ids named after the rule. */
function importTarget(
  scope: Construct,
  ruleName: string,
  target: Exclude<TargetSpec, { type: 'webhook' }>,
): SyncRuleTarget {
  switch (target.type) {
    case 'hubspot':
    case 'salesforce':
      return { kind: 'crm', target, rateLimitPerSecond: target.rateLimitPerSecond };
    case 'sqs':
      return { kind: 'sqs', queue: sqs.Queue.fromQueueArn(scope, `${ruleName}Queue`, target.queueArn) };
    case 'lambda':
      return {
        kind: 'lambda',
        function: importTargetFunction(scope, `${ruleName}Function`, target.functionArn),
      };
    case 'stepFunctions':
      return {
        kind: 'stepFunctions',
        stateMachine: sfn.StateMachine.fromStateMachineArn(
          scope,
          `${ruleName}StateMachine`,
          target.stateMachineArn,
        ),
      };
    case 'apiDestination': {
      const connection = events.Connection.fromConnectionAttributes(scope, `${ruleName}Connection`, {
        connectionArn: target.connectionArn,
        connectionName: connectionName(target.connectionArn),
        connectionSecretArn: target.connectionSecretArn,
      });
      return {
        kind: 'apiDestination',
        apiDestination: events.ApiDestination.fromApiDestinationAttributes(
          scope,
          `${ruleName}ApiDestination`,
          {
            apiDestinationArn: target.apiDestinationArn,
            connection,
          },
        ),
      };
    }
  }
}

/**
 * A rule-target function named by ARN. In an environment-agnostic stack CDK cannot tell that the function
 * is in the deploying account, so it adds no `AWS::Lambda::Permission` for EventBridge (every event would
 * end in the target's dead-letter queue): the function is declared to be in the stack's environment. A stack
 * pinned to another account or region cannot target it at all (CDK refuses at synth).
 */
function importTargetFunction(scope: Construct, id: string, functionArn: string): lambda.IFunction {
  return lambda.Function.fromFunctionAttributes(scope, id, { functionArn, sameEnvironment: true });
}

/**
 * A queue named by ARN is not the stack's: its policy (which EventBridge needs) cannot be changed without
 * replacing its owner's whole policy. Synth says what to add.
 */
function warnAboutQueuePolicy(rule: CustomerSyncRule, name: string, queueArn: string): void {
  const statement = {
    Effect: 'Allow',
    Principal: { Service: 'events.amazonaws.com' },
    Action: 'sqs:SendMessage',
    Resource: queueArn,
    Condition: { ArnEquals: { 'aws:SourceArn': `<the ARN of rule ${rule.ruleName}>` } },
  };
  Annotations.of(rule).addWarningV2(
    'nutcache-cdc:sqsTargetPolicy',
    `sync rule '${name}': EventBridge can send to ${queueArn} only if the queue's policy allows it (the stack does not own the queue). Add this statement to its policy: ${JSON.stringify(statement)}`,
  );
}
