/**
 * Rules a real AWS account enforces on a deployment that loopback stand-ins and `cdk synth` don't
 * (/work reference: aws-limits.md, "Rules a real account enforces"), checked on a synthesized template.
 *
 * `checkAccountRules(template, config)` returns every violation (an empty list when the template would
 * deploy and work). Intrinsic values the account fills in at deploy time (`Ref`, `Fn::GetAtt`, pseudo
 * parameters) are measured at a realistic maximum length: an ARN, name or URL counts
 * TOKEN_LENGTH_ESTIMATE characters, a pseudo parameter its longest value.
 */
import { z } from 'zod';
import type { NutcacheCdcConfig } from '../../infra/config.ts';
import { POLLER_SERVICE_NAME } from '../../infra/constructs/poller-metrics.ts';
import { inputTransformerSchema } from '../../shared/rules/input-transformer.ts';

export const ACCOUNT_RULES = {
  'lambda-environment-size': "A function's environment variables (keys and values) total at most 4 KB.",
  'reserved-concurrency':
    'No function reserves concurrency unless the configuration asks for it (a reservation fails the first deploy on a small account).',
  'retained-fixed-name':
    'No retained resource has a fixed physical name (it would block the next create of the same name).',
  'stack-resource-count': 'A stack has at most 500 resources.',
  'stack-output-count': 'A stack has at most 200 outputs.',
  'template-size': 'A template is at most 1 MB.',
  'role-policy-size':
    "A role's inline policies total at most 10,240 characters; a managed policy at most 6,144.",
  'alarm-topic-publish':
    'Every SNS topic an alarm notifies lets cloudwatch.amazonaws.com sns:Publish for that alarm (and use its KMS key).',
  'lambda-target-permission':
    'Every Lambda function an EventBridge rule targets has a Lambda::Permission for events.amazonaws.com from that rule.',
  'empty-kms-key-identifier': 'No KMS key property is an empty string.',
  'multivalued-condition-key':
    'A multivalued condition key is tested with a set operator (ForAllValues/ForAnyValue), and ForAllValues with a Null check.',
  'api-destination-https': 'An API destination calls an https:// endpoint (EventBridge refuses any other).',
  'rule-input-transformer':
    "A rule target's input transformer is one PutTargets accepts (at most 100 paths, template of 1 to 8,192 characters, placeholders defined, never an object key).",
} as const;
export type AccountRule = keyof typeof ACCOUNT_RULES;

export interface AccountRuleViolation {
  readonly rule: AccountRule;
  /** The logical id of the resource at fault (or `(template)`). */
  readonly resource: string;
  readonly message: string;
}

/** Characters counted for a value the account fills in at deploy time (an ARN is ~140 characters). */
export const TOKEN_LENGTH_ESTIMATE = 140;
export const LAMBDA_ENVIRONMENT_LIMIT = 4096;
export const MAX_RESOURCES = 500;
export const MAX_OUTPUTS = 200;
export const MAX_TEMPLATE_BYTES = 1_048_576;
export const MAX_ROLE_INLINE_POLICY_CHARS = 10_240;
export const MAX_MANAGED_POLICY_CHARS = 6_144;
/** Condition keys with one value per entry or item of a request. */
export const MULTIVALUED_CONDITION_KEYS = [
  'events:source',
  'events:detail-type',
  'dynamodb:LeadingKeys',
  'dynamodb:Attributes',
  'aws:TagKeys',
  'aws:CalledVia',
] as const;

const PSEUDO_PARAMETER_LENGTHS: Readonly<Record<string, number>> = {
  'AWS::AccountId': 12,
  'AWS::Region': 14,
  'AWS::Partition': 10,
  'AWS::URLSuffix': 16,
  'AWS::StackName': 128,
  'AWS::NoValue': 0,
};

const resourceSchema = z.looseObject({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
  DeletionPolicy: z.string().optional(),
});
const templateSchema = z.looseObject({
  Resources: z.record(z.string(), resourceSchema),
  Outputs: z.record(z.string(), z.unknown()).optional(),
});
type Resource = z.infer<typeof resourceSchema>;
type TemplateModel = z.infer<typeof templateSchema>;
type Json = Record<string, unknown>;

interface Context {
  readonly template: TemplateModel;
  readonly config: NutcacheCdcConfig;
  readonly raw: unknown;
}

/** Every violation of the account rules by a synthesized template. */
export function checkAccountRules(template: unknown, config: NutcacheCdcConfig): AccountRuleViolation[] {
  const context: Context = { template: templateSchema.parse(template), config, raw: template };
  return [
    ...lambdaEnvironmentSize(context),
    ...reservedConcurrency(context),
    ...retainedFixedNames(context),
    ...stackLimits(context),
    ...rolePolicySizes(context),
    ...alarmTopicPublish(context),
    ...lambdaTargetPermissions(context),
    ...emptyKmsKeyIdentifiers(context),
    ...multivaluedConditionKeys(context),
    ...apiDestinationEndpoints(context),
    ...ruleInputTransformers(context),
  ];
}

// --- Values filled in at deploy time ------------------------------------------------------------------

function isIntrinsic(value: unknown): value is Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || String(keys[0]).startsWith('Fn::'));
}

/** A value with every intrinsic replaced by a placeholder string of its estimated deployed length. */
export function estimateValue(value: unknown): unknown {
  if (isIntrinsic(value)) return estimateIntrinsic(value);
  if (Array.isArray(value)) return value.map(estimateValue);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, estimateValue(v)]));
  }
  return value;
}

function estimateIntrinsic(value: Json): string {
  const ref = value.Ref;
  if (typeof ref === 'string' && ref in PSEUDO_PARAMETER_LENGTHS) {
    return 'x'.repeat(PSEUDO_PARAMETER_LENGTHS[ref] ?? TOKEN_LENGTH_ESTIMATE);
  }
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    return join[1].map((part) => String(estimateValue(part))).join(join[0]);
  }
  return 'x'.repeat(TOKEN_LENGTH_ESTIMATE);
}

/** A value as text, intrinsics at their estimated length. */
function estimatedText(value: unknown): string {
  const estimated = estimateValue(value);
  return typeof estimated === 'string' ? estimated : JSON.stringify(estimated);
}

/** A value as a pattern: intrinsics become `*` (any deployed value). */
function asPattern(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!isIntrinsic(value)) return '*';
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    return join[1].map(asPattern).join(join[0]);
  }
  return '*';
}

function globMatches(pattern: string, text: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(text);
}

// --- Helpers over the template ----------------------------------------------------------------------

function resourcesOfType(context: Context, type: string): [string, Resource][] {
  return Object.entries(context.template.Resources).filter(([, r]) => r.Type === type);
}

const props = (resource: Resource): Json => resource.Properties ?? {};
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The logical id a `Ref` or `Fn::GetAtt` points to. */
function referencedId(value: unknown): string | undefined {
  if (!isIntrinsic(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

// --- Lambda -----------------------------------------------------------------------------------------

function lambdaEnvironmentSize(context: Context): AccountRuleViolation[] {
  return resourcesOfType(context, 'AWS::Lambda::Function').flatMap(([id, fn]) => {
    const variables = ((props(fn).Environment as Json | undefined)?.Variables ?? {}) as Json;
    const bytes = Object.entries(variables).reduce(
      (sum, [key, value]) => sum + Buffer.byteLength(key) + Buffer.byteLength(estimatedText(value)),
      0,
    );
    return bytes > LAMBDA_ENVIRONMENT_LIMIT
      ? [
          violation(
            'lambda-environment-size',
            id,
            `environment variables of about ${bytes} bytes once deployed (Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT})`,
          ),
        ]
      : [];
  });
}

/** The reservation the configuration asks for, by the function's Powertools service name. */
function configuredReservation(config: NutcacheCdcConfig, serviceName: unknown): number | undefined {
  if (serviceName === `${POLLER_SERVICE_NAME}-${config.environmentName}`)
    return config.pollerReservedConcurrency;
  if (serviceName === `sync-now-${config.environmentName}`) return config.syncNowReservedConcurrency;
  return undefined;
}

function reservedConcurrency(context: Context): AccountRuleViolation[] {
  return resourcesOfType(context, 'AWS::Lambda::Function').flatMap(([id, fn]) => {
    const reserved = props(fn).ReservedConcurrentExecutions;
    if (reserved === undefined) return [];
    const service = ((props(fn).Environment as Json | undefined)?.Variables as Json | undefined)
      ?.POWERTOOLS_SERVICE_NAME;
    const configured = configuredReservation(context.config, service);
    return configured === reserved
      ? []
      : [
          violation(
            'reserved-concurrency',
            id,
            `reserves ${String(reserved)} concurrent executions; the configuration asks for ${configured ?? 'none'}`,
          ),
        ];
  });
}

function lambdaTargetPermissions(context: Context): AccountRuleViolation[] {
  const permissions = resourcesOfType(context, 'AWS::Lambda::Permission').map(([, p]) => props(p));
  return resourcesOfType(context, 'AWS::Events::Rule').flatMap(([ruleId, rule]) =>
    list(props(rule).Targets ?? [])
      .map((target) => (target as Json).Arn)
      .filter((arn) => isLambdaArn(context, arn))
      .filter((arn) => !permissions.some((p) => permitsRule(p, arn, ruleId, props(rule).Name)))
      .map((arn) =>
        violation(
          'lambda-target-permission',
          ruleId,
          `targets function ${JSON.stringify(arn)} without a Lambda::Permission for events.amazonaws.com from this rule`,
        ),
      ),
  );
}

function isLambdaArn(context: Context, arn: unknown): boolean {
  if (typeof arn === 'string') return /^arn:[^:]+:lambda:[^:]*:[^:]*:function:/.test(arn);
  const id = referencedId(arn);
  return id !== undefined && context.template.Resources[id]?.Type === 'AWS::Lambda::Function';
}

function permitsRule(permission: Json, functionArn: unknown, ruleId: string, ruleName: unknown): boolean {
  if (permission.Principal !== 'events.amazonaws.com') return false;
  if (!['lambda:InvokeFunction', 'lambda:*'].includes(String(permission.Action))) return false;
  if (!same(permission.FunctionName, functionArn)) return false;
  const source = permission.SourceArn;
  return (
    source === undefined ||
    referencedId(source) === ruleId ||
    (typeof ruleName === 'string' && JSON.stringify(source).includes(ruleName))
  );
}

// --- CloudFormation ---------------------------------------------------------------------------------

/** Properties holding a physical name: `Name` or `<Type>Name` (TableName, ScheduleGroupName, …). */
function physicalName(resource: Resource): unknown {
  const type = resource.Type.split('::').at(-1) ?? '';
  return props(resource).Name ?? props(resource)[`${type}Name`];
}

function retainedFixedNames(context: Context): AccountRuleViolation[] {
  return Object.entries(context.template.Resources)
    .filter(([, r]) => r.DeletionPolicy === 'Retain' || r.DeletionPolicy === 'RetainExceptOnCreate')
    .filter(([, r]) => physicalName(r) !== undefined)
    .map(([id, r]) =>
      violation(
        'retained-fixed-name',
        id,
        `${r.Type} is retained on delete with the fixed name ${JSON.stringify(physicalName(r))}: the next deploy cannot create it again`,
      ),
    );
}

function stackLimits(context: Context): AccountRuleViolation[] {
  const resources = Object.keys(context.template.Resources).length;
  const outputs = Object.keys(context.template.Outputs ?? {}).length;
  const bytes = Buffer.byteLength(JSON.stringify(context.raw, undefined, 1));
  return [
    ...(resources > MAX_RESOURCES
      ? [violation('stack-resource-count', '(template)', `${resources} resources (at most ${MAX_RESOURCES})`)]
      : []),
    ...(outputs > MAX_OUTPUTS
      ? [violation('stack-output-count', '(template)', `${outputs} outputs (at most ${MAX_OUTPUTS})`)]
      : []),
    ...(bytes > MAX_TEMPLATE_BYTES
      ? [violation('template-size', '(template)', `${bytes} bytes (at most ${MAX_TEMPLATE_BYTES})`)]
      : []),
  ];
}

function emptyKmsKeyIdentifiers(context: Context): AccountRuleViolation[] {
  return Object.entries(context.template.Resources).flatMap(([id, r]) =>
    Object.entries(props(r))
      .filter(([key, value]) => /^kms/i.test(key) && value === '')
      .map(([key]) => violation('empty-kms-key-identifier', id, `${r.Type} has ${key}: ""`)),
  );
}

// --- EventBridge API destinations and rule targets ------------------------------------------------------

function apiDestinationEndpoints(context: Context): AccountRuleViolation[] {
  return resourcesOfType(context, 'AWS::Events::ApiDestination')
    .filter(([, r]) => !estimatedText(props(r).InvocationEndpoint).startsWith('https://'))
    .map(([id, r]) =>
      violation(
        'api-destination-https',
        id,
        `endpoint ${estimatedText(props(r).InvocationEndpoint)} is not https`,
      ),
    );
}

function ruleInputTransformers(context: Context): AccountRuleViolation[] {
  return resourcesOfType(context, 'AWS::Events::Rule').flatMap(([id, r]) => {
    const targets = Array.isArray(props(r).Targets) ? (props(r).Targets as Json[]) : [];
    return targets.flatMap((target) => {
      const transformer = target.InputTransformer as Json | undefined;
      if (!transformer) return [];
      const parsed = inputTransformerSchema.safeParse({
        inputPathsMap: transformer.InputPathsMap,
        inputTemplate: transformer.InputTemplate,
      });
      return parsed.success
        ? []
        : [violation('rule-input-transformer', id, parsed.error.issues.map((i) => i.message).join('; '))];
    });
  });
}

// --- IAM --------------------------------------------------------------------------------------------

const policyText = (document: unknown) => JSON.stringify(estimateValue(document)).replace(/\s/g, '');

function rolePolicySizes(context: Context): AccountRuleViolation[] {
  const attached = resourcesOfType(context, 'AWS::IAM::Policy');
  const inline = resourcesOfType(context, 'AWS::IAM::Role').flatMap(([roleId, role]) => {
    const own = list(props(role).Policies ?? []).map((p) => (p as Json).PolicyDocument);
    const others = attached
      .filter(([, p]) => list(props(p).Roles).some((r) => referencedId(r) === roleId))
      .map(([, p]) => props(p).PolicyDocument);
    const chars = [...own, ...others].reduce((sum: number, doc) => sum + policyText(doc).length, 0);
    return chars > MAX_ROLE_INLINE_POLICY_CHARS
      ? [
          violation(
            'role-policy-size',
            roleId,
            `inline policies of about ${chars} characters (at most ${MAX_ROLE_INLINE_POLICY_CHARS})`,
          ),
        ]
      : [];
  });
  const managed = resourcesOfType(context, 'AWS::IAM::ManagedPolicy')
    .filter(([, p]) => policyText(props(p).PolicyDocument).length > MAX_MANAGED_POLICY_CHARS)
    .map(([id]) =>
      violation('role-policy-size', id, `managed policy over ${MAX_MANAGED_POLICY_CHARS} characters`),
    );
  return [...inline, ...managed];
}

interface PolicyStatement {
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Every policy document of the template: identity, trust and resource policies. */
function policyDocuments(context: Context): [string, unknown][] {
  return Object.entries(context.template.Resources).flatMap(([id, r]) => {
    const p = props(r);
    const inline = list(p.Policies ?? []).map((policy) => (policy as Json).PolicyDocument);
    return [p.PolicyDocument, p.AssumeRolePolicyDocument, p.KeyPolicy, ...inline]
      .filter((doc) => doc !== undefined)
      .map((doc): [string, unknown] => [id, doc]);
  });
}

const statementsOf = (document: unknown): PolicyStatement[] =>
  list((document as { Statement?: unknown }).Statement ?? []) as PolicyStatement[];

function multivaluedConditionKeys(context: Context): AccountRuleViolation[] {
  return policyDocuments(context).flatMap(([id, document]) =>
    statementsOf(document)
      .flatMap((statement) => conditionProblems(statement))
      .map((problem) => violation('multivalued-condition-key', id, problem)),
  );
}

function conditionProblems(statement: PolicyStatement): string[] {
  const conditions = statement.Condition ?? {};
  return Object.entries(conditions).flatMap(([operator, keys]) =>
    Object.keys(keys)
      .filter((key) => (MULTIVALUED_CONDITION_KEYS as readonly string[]).includes(key))
      .flatMap((key) => {
        if (operator === 'Null') return [];
        if (!/^(ForAllValues|ForAnyValue):/.test(operator)) {
          return [
            `${operator} on the multivalued key ${key}: IAM never matches it (use ForAllValues:/ForAnyValue:)`,
          ];
        }
        const nullCheck = conditions.Null?.[key];
        return operator.startsWith('ForAllValues:') && String(nullCheck) !== 'false'
          ? [`${operator} on ${key} without a Null check: a request without the key passes`]
          : [];
      }),
  );
}

// --- SNS alarm topics -------------------------------------------------------------------------------

function alarmTopicPublish(context: Context): AccountRuleViolation[] {
  return resourcesOfType(context, 'AWS::CloudWatch::Alarm').flatMap(([alarmId, alarm]) => {
    const p = props(alarm);
    const actions = [p.AlarmActions, p.OKActions, p.InsufficientDataActions].flatMap((a) => list(a ?? []));
    const topics = [...new Set(actions.map(referencedId))].filter(
      (id): id is string => id !== undefined && context.template.Resources[id]?.Type === 'AWS::SNS::Topic',
    );
    return topics.flatMap((topicId) =>
      topicProblems(context, topicId, p.AlarmName).map((problem) =>
        violation('alarm-topic-publish', alarmId, `topic ${topicId}: ${problem}`),
      ),
    );
  });
}

function topicProblems(context: Context, topicId: string, alarmName: unknown): string[] {
  const policies = resourcesOfType(context, 'AWS::SNS::TopicPolicy').filter(([, p]) =>
    list(props(p).Topics).some((t) => referencedId(t) === topicId),
  );
  // Without a topic policy, SNS's default policy lets the account's own services publish.
  const publish =
    policies.length === 0 ||
    policies.some(([, p]) =>
      statementsOf(props(p).PolicyDocument).some((s) => allowsCloudWatch(s, ['sns:Publish'], alarmName)),
    );
  const keyId = referencedId(props(context.template.Resources[topicId] as Resource).KmsMasterKeyId);
  const key = keyId === undefined ? undefined : context.template.Resources[keyId];
  const decrypt =
    key === undefined ||
    statementsOf(props(key).KeyPolicy).some((s) =>
      allowsCloudWatch(s, ['kms:Decrypt', 'kms:GenerateDataKey*'], alarmName),
    );
  return [
    ...(publish ? [] : ['its policy does not let cloudwatch.amazonaws.com sns:Publish for this alarm']),
    ...(decrypt ? [] : ['its KMS key does not let cloudwatch.amazonaws.com kms:Decrypt/GenerateDataKey*']),
  ];
}

function allowsCloudWatch(
  statement: PolicyStatement,
  actions: readonly string[],
  alarmName: unknown,
): boolean {
  if (statement.Effect !== 'Allow') return false;
  const principals = JSON.stringify(statement.Principal ?? '');
  if (!principals.includes('cloudwatch.amazonaws.com') && statement.Principal !== '*') return false;
  const granted = list(statement.Action).map(String);
  const grants = (action: string) =>
    granted.some((g) => globMatches(g, action) || g === action || globMatches(action, g));
  if (!actions.every(grants)) return false;
  return sourceArnAllows(statement, alarmName);
}

/** Whether an `aws:SourceArn` condition (if any) covers the alarm's ARN. */
function sourceArnAllows(statement: PolicyStatement, alarmName: unknown): boolean {
  const conditions = Object.values(statement.Condition ?? {});
  const sourceArns = conditions.flatMap((c) =>
    c['aws:SourceArn'] === undefined ? [] : list(c['aws:SourceArn']),
  );
  if (sourceArns.length === 0 || typeof alarmName !== 'string') return true;
  return sourceArns.some((arn) => {
    const pattern = asPattern(arn);
    const namePattern = pattern.includes(':alarm:') ? pattern.slice(pattern.indexOf(':alarm:') + 7) : pattern;
    return globMatches(namePattern, alarmName);
  });
}

function violation(rule: AccountRule, resource: string, message: string): AccountRuleViolation {
  return { rule, resource, message };
}
