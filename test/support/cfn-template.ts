/**
 * A synthesized CloudFormation template as a deployed stack would see it, without an AWS account: every
 * resource gets a deterministic physical name and ARN in account 123456789012 / us-east-1, intrinsics
 * (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, pseudo parameters) are resolved
 * to those, and the policies IAM would evaluate are gathered per role and per resource: identity policies
 * (inline and `AWS::IAM::Policy`), trust policies, and resource policies (SQS queue policies, SNS topic
 * policies, KMS key policies, Lambda permissions).
 */
import { createHash } from 'node:crypto';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export interface NamedPolicy {
  readonly name: string;
  readonly policy: PolicyDocument;
}

const PSEUDO: Record<string, string> = {
  'AWS::AccountId': ACCOUNT,
  'AWS::Region': REGION,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::NoValue': '',
};

/** The property holding a resource's explicit name, per type. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Events::EventBus': 'Name',
  'AWS::Events::Rule': 'Name',
  'AWS::Events::Archive': 'ArchiveName',
  'AWS::Events::Connection': 'Name',
  'AWS::Events::ApiDestination': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::Policy': 'PolicyName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Scheduler::ScheduleGroup': 'Name',
  'AWS::Scheduler::Schedule': 'Name',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::EventSchemas::Registry': 'RegistryName',
  'AWS::CloudWatch::Dashboard': 'DashboardName',
};

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A UUID-shaped value derived from `seed` (stable across runs). */
export function fakeUuid(seed: string): string {
  const h = digest(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The 6-character suffix Secrets Manager appends to a secret's name in its ARN. */
export function secretSuffix(seed: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...digest(seed).slice(0, 6)].map((c) => alphabet[Number.parseInt(c, 16)] ?? 'x').join('');
}

const arn = (service: string, rest: string, region = REGION) =>
  `arn:aws:${service}:${region}:${ACCOUNT}:${rest}`;

type Attributes = Record<string, string>;

export class DeployedStack {
  private readonly attributeCache = new Map<string, Attributes>();

  constructor(
    readonly template: CfnTemplate,
    readonly stackName: string,
  ) {}

  resource(id: string): CfnResource {
    const resource = this.template.Resources[id];
    if (!resource) throw new Error(`no resource ${id} in the template`);
    return resource;
  }

  /** `[logicalId, resource]` of every resource of `type`. */
  ofType(type: string): [string, CfnResource][] {
    return Object.entries(this.template.Resources).filter(([, r]) => r.Type === type);
  }

  /** The resource's physical name: its explicit name property, else `<stack>-<logicalId>`. */
  physicalName(id: string): string {
    const resource = this.resource(id);
    const property = NAME_PROPERTY[resource.Type];
    const explicit = property ? resource.Properties?.[property] : undefined;
    if (explicit !== undefined) return this.resolveString(explicit);
    // CloudFormation names a FIFO queue `<stack>-<logicalId>-<suffix>.fifo` (SQS requires the suffix).
    const fifo = resource.Type === 'AWS::SQS::Queue' && resource.Properties?.FifoQueue === true;
    return `${`${this.stackName}-${id}`.slice(0, 64)}${fifo ? '.fifo' : ''}`;
  }

  ref(id: string): string {
    const pseudo = PSEUDO[id];
    if (pseudo !== undefined) return pseudo;
    const value = this.attributes(id).Ref;
    if (value === undefined) throw new Error(`no Ref for ${id} (${this.resource(id).Type})`);
    return value;
  }

  getAtt(id: string, attribute: string): string {
    const value = this.attributes(id)[attribute];
    if (value === undefined) throw new Error(`no Fn::GetAtt ${id}.${attribute} (${this.resource(id).Type})`);
    return value;
  }

  private attributes(id: string): Attributes {
    let cached = this.attributeCache.get(id);
    if (!cached) {
      cached = this.computeAttributes(id);
      this.attributeCache.set(id, cached);
    }
    return cached;
  }

  private computeAttributes(id: string): Attributes {
    const resource = this.resource(id);
    const props = resource.Properties ?? {};
    const name = () => this.physicalName(id);
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table':
        return { Ref: name(), Arn: arn('dynamodb', `table/${name()}`) };
      case 'AWS::Events::EventBus':
        return { Ref: name(), Name: name(), Arn: arn('events', `event-bus/${name()}`) };
      case 'AWS::Events::Rule': {
        const bus = props.EventBusName === undefined ? 'default' : this.busName(props.EventBusName);
        const ruleArn = arn('events', bus === 'default' ? `rule/${name()}` : `rule/${bus}/${name()}`);
        return { Ref: bus === 'default' ? name() : `${bus}|${name()}`, Arn: ruleArn };
      }
      case 'AWS::Events::Archive':
        return { Ref: name(), ArchiveName: name(), Arn: arn('events', `archive/${name()}`) };
      case 'AWS::SQS::Queue': {
        const url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name()}`;
        return { Ref: url, QueueUrl: url, QueueName: name(), Arn: arn('sqs', name()) };
      }
      case 'AWS::SecretsManager::Secret': {
        const secretArn = arn('secretsmanager', `secret:${name()}-${secretSuffix(id)}`);
        return { Ref: secretArn, Id: secretArn };
      }
      case 'AWS::Lambda::Function':
        return { Ref: name(), Arn: arn('lambda', `function:${name()}`) };
      case 'AWS::Lambda::EventSourceMapping': {
        const uuid = fakeUuid(id);
        return { Ref: uuid, Id: uuid, EventSourceMappingArn: arn('lambda', `event-source-mapping:${uuid}`) };
      }
      case 'AWS::Lambda::Url':
        return {
          FunctionUrl: `https://${digest(id).slice(0, 32)}.lambda-url.${REGION}.on.aws/`,
          FunctionArn: this.resolveString(props.TargetFunctionArn),
        };
      case 'AWS::IAM::Role':
        return {
          Ref: name(),
          Arn: `arn:aws:iam::${ACCOUNT}:role/${name()}`,
          RoleId: `AROA${digest(id).slice(0, 17).toUpperCase()}`,
        };
      case 'AWS::IAM::Policy':
        return { Ref: name() };
      case 'AWS::Logs::LogGroup':
        return { Ref: name(), Arn: arn('logs', `log-group:${name()}:*`) };
      case 'AWS::Scheduler::ScheduleGroup':
        return { Ref: name(), Arn: arn('scheduler', `schedule-group/${name()}`) };
      case 'AWS::Scheduler::Schedule': {
        const group = props.GroupName === undefined ? 'default' : this.resolveString(props.GroupName);
        return { Ref: name(), Arn: arn('scheduler', `schedule/${group}/${name()}`) };
      }
      case 'AWS::SNS::Topic': {
        const topicArn = arn('sns', name());
        return { Ref: topicArn, TopicArn: topicArn, TopicName: name() };
      }
      case 'AWS::KMS::Key': {
        const keyId = fakeUuid(id);
        return { Ref: keyId, KeyId: keyId, Arn: arn('kms', `key/${keyId}`) };
      }
      case 'AWS::CloudWatch::Alarm':
        return { Ref: name(), Arn: arn('cloudwatch', `alarm:${name()}`) };
      case 'AWS::CloudWatch::Dashboard':
        return { Ref: name() };
      case 'AWS::Events::Connection': {
        const connectionArn = arn('events', `connection/${name()}/${fakeUuid(id)}`);
        const secretArn = arn(
          'secretsmanager',
          `secret:events!connection/${name()}/${fakeUuid(id)}-${secretSuffix(id)}`,
        );
        return { Ref: name(), Arn: connectionArn, SecretArn: secretArn };
      }
      case 'AWS::Events::ApiDestination':
        return { Ref: name(), Arn: arn('events', `api-destination/${name()}/${fakeUuid(id)}`) };
      case 'AWS::EventSchemas::Registry':
        return { Ref: name(), RegistryName: name(), RegistryArn: arn('schemas', `registry/${name()}`) };
      default:
        return { Ref: `${id}-physical-id` };
    }
  }

  /** A rule's `EventBusName` (a name, an ARN or a Ref) as a bus name. */
  private busName(value: unknown): string {
    const resolved = this.resolveString(value);
    return resolved.startsWith('arn:') ? (resolved.split('event-bus/')[1] ?? resolved) : resolved;
  }

  /** Resolves every intrinsic inside `value` (objects and arrays are walked). */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
      return this.intrinsic(key, argument);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
    throw new Error(`expected a string, got ${JSON.stringify(resolved)}`);
  }

  private intrinsic(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(argument));
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
        return this.getAtt(String(id), String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => this.resolveString(part)).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        const items = this.resolve(list) as unknown[];
        return items[Number(this.resolve(index))];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return this.resolveString(text).split(separator);
      }
      case 'Fn::Sub':
        return this.substitute(argument);
      default:
        throw new Error(`unsupported intrinsic ${name}`);
    }
  }

  private substitute(argument: unknown): string {
    const [text, variables] = Array.isArray(argument)
      ? (argument as [string, Record<string, unknown>])
      : [String(argument), {}];
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_, expression: string) => {
      if (expression in variables) return this.resolveString(variables[expression]);
      const [id, attribute] = expression.split('.');
      return attribute === undefined ? this.ref(String(id)) : this.getAtt(String(id), attribute);
    });
  }

  // --- Policies ------------------------------------------------------------------------------------

  /** The logical id behind `Fn::GetAtt [id, …]` or `Ref id`. */
  referencedId(value: unknown): string {
    if (typeof value === 'object' && value !== null) {
      const getAtt = (value as Record<string, unknown>)['Fn::GetAtt'];
      if (Array.isArray(getAtt)) return String(getAtt[0]);
      const ref = (value as Record<string, unknown>).Ref;
      if (typeof ref === 'string') return ref;
    }
    throw new Error(`not a reference to a role in the template: ${JSON.stringify(value)}`);
  }

  /** Every identity policy attached to the role: inline, `AWS::IAM::Policy`, and known managed policies. */
  identityPolicies(roleId: string): NamedPolicy[] {
    const role = this.resource(roleId);
    const inline = (
      (role.Properties?.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]
    ).map((p) => ({ name: p.PolicyName, policy: this.resolve(p.PolicyDocument) as PolicyDocument }));
    const attached = this.ofType('AWS::IAM::Policy')
      .filter(([, policy]) =>
        ((policy.Properties?.Roles ?? []) as unknown[]).some((r) => {
          const ref = (r as { Ref?: unknown }).Ref;
          return ref === roleId;
        }),
      )
      .map(([id, policy]) => ({
        name: id,
        policy: this.resolve(policy.Properties?.PolicyDocument) as PolicyDocument,
      }));
    const managed = ((role.Properties?.ManagedPolicyArns ?? []) as unknown[]).map((value) => {
      const managedArn = this.resolveString(value);
      const known = MANAGED_POLICIES[managedArn.split(':policy/')[1] ?? ''];
      if (!known) throw new Error(`managed policy ${managedArn} is not modelled`);
      return { name: managedArn, policy: known };
    });
    return [...inline, ...attached, ...managed];
  }

  trustPolicy(roleId: string): PolicyDocument {
    return this.resolve(this.resource(roleId).Properties?.AssumeRolePolicyDocument) as PolicyDocument;
  }

  roleArn(roleId: string): string {
    return this.getAtt(roleId, 'Arn');
  }

  /**
   * The resource policy of the resource with this ARN, merged from every policy resource naming it: SQS
   * queue policies, SNS topic policies, KMS key policies, Lambda permissions. Undefined when there is none.
   */
  resourcePolicy(resourceArn: string): PolicyDocument | undefined {
    const statements: PolicyStatement[] = [];
    const collect = (
      type: string,
      listProperty: string,
      documentProperty: string,
      toArn: (v: string) => string,
    ) => {
      for (const [, r] of this.ofType(type)) {
        const targets = ((r.Properties?.[listProperty] ?? []) as unknown[]).map((t) =>
          toArn(this.resolveString(t)),
        );
        if (!targets.includes(resourceArn)) continue;
        statements.push(...(this.resolve(r.Properties?.[documentProperty]) as PolicyDocument).Statement);
      }
    };
    collect('AWS::SQS::QueuePolicy', 'Queues', 'PolicyDocument', queueUrlToArn);
    collect('AWS::SNS::TopicPolicy', 'Topics', 'PolicyDocument', (v) => v);
    for (const [id, key] of this.ofType('AWS::KMS::Key')) {
      if (this.getAtt(id, 'Arn') === resourceArn) {
        statements.push(...(this.resolve(key.Properties?.KeyPolicy) as PolicyDocument).Statement);
      }
    }
    statements.push(...this.lambdaPermissionStatements(resourceArn));
    return statements.length > 0 ? { Version: '2012-10-17', Statement: statements } : undefined;
  }

  /** `AWS::Lambda::Permission` resources on this function, as the statements Lambda turns them into. */
  private lambdaPermissionStatements(functionArn: string): PolicyStatement[] {
    const out: PolicyStatement[] = [];
    for (const [id, permission] of this.ofType('AWS::Lambda::Permission')) {
      const p = this.resolve(permission.Properties) as Record<string, string | boolean | undefined>;
      const target = String(p.FunctionName);
      const targetArn = target.startsWith('arn:') ? target : arn('lambda', `function:${target}`);
      if (targetArn !== functionArn && !functionArn.startsWith(`${targetArn}:`)) continue;
      const principal = String(p.Principal);
      const condition: Record<string, Record<string, string>> = {};
      if (p.SourceArn) condition.ArnLike = { 'AWS:SourceArn': String(p.SourceArn) };
      if (p.SourceAccount) condition.StringEquals = { 'AWS:SourceAccount': String(p.SourceAccount) };
      if (p.FunctionUrlAuthType) {
        condition.StringEquals = {
          ...condition.StringEquals,
          'lambda:FunctionUrlAuthType': String(p.FunctionUrlAuthType),
        };
      }
      if (p.InvokedViaFunctionUrl === true || p.InvokedViaFunctionUrl === 'true') {
        condition.Bool = { 'lambda:InvokedViaFunctionUrl': 'true' };
      }
      out.push({
        Sid: id,
        Effect: 'Allow',
        Principal:
          principal === '*'
            ? '*'
            : principal.endsWith('.amazonaws.com')
              ? { Service: principal }
              : { AWS: /^\d{12}$/.test(principal) ? `arn:aws:iam::${principal}:root` : principal },
        Action: String(p.Action),
        Resource: targetArn,
        ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
      });
    }
    return out;
  }
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` (or an ARN, or a stand-in's URL) as the queue's ARN. */
export function queueUrlToArn(urlOrArn: string): string {
  if (urlOrArn.startsWith('arn:')) return urlOrArn;
  const url = new URL(urlOrArn);
  const [, account, name] = url.pathname.split('/');
  const region = /sqs\.([a-z0-9-]+)\./.exec(url.hostname)?.[1] ?? REGION;
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/** AWS managed policies the project may attach, modelled by their published documents. */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
};
