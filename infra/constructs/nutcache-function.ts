/**
 * `NutcacheFunction`: every Lambda function of the project, with its defaults pinned once (Node.js 22 on
 * arm64, X-Ray tracing, its own log group with a retention, explicit esbuild bundling to a minified ESM
 * bundle with source maps) and `use…` helpers that set an environment variable and the IAM grant it needs
 * in one call, so a function can never have the variable without the permission (or the reverse).
 *
 * Bundling choice: the AWS SDK v3 clients are bundled (`bundleAwsSDK: true`), not taken from the Lambda
 * runtime. The deployed code then runs exactly the SDK versions the tests ran (package-lock.json), the
 * bundle is self-contained (the deployable-artifact test imports it with no node_modules around it), and
 * esbuild tree-shaking keeps only the commands used. Cost: a bigger bundle than an SDK-external one.
 */
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV, METRICS_NAMESPACE } from '../../shared/config/env.ts';

/** An environment variable name from the shared contract (shared/config/env.ts). */
export type EnvVarName = (typeof ENV)[keyof typeof ENV];

/** The banner that gives an ESM bundle a working `require` for CommonJS dependencies that call it. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __nutcacheCreateRequire } from 'node:module'; const require = __nutcacheCreateRequire(import.meta.url);";

export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface NutcacheFunctionProps {
  /** The handler's TypeScript file (e.g. `functions/poller.ts`). */
  readonly entry: string;
  /** The exported handler name. @default 'handler' */
  readonly handler?: string;
  readonly description?: string;
  /** Powertools service name: the `service` dimension of every metric and log line. */
  readonly serviceName: string;
  /** @default METRICS_NAMESPACE */
  readonly metricsNamespace?: string;
  /** @default 'INFO' */
  readonly logLevel?: PowertoolsLogLevel;
  readonly timeout: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /**
   * V8's old-space limit (MB, `--max-old-space-size`). Pinned for the poller so its heap is collected at the
   * size `npm run bench` measured with (shared/engine/memory-fit.ts), whatever V8 would pick by itself.
   * @default V8's own choice
   */
  readonly maxOldSpaceMb?: number;
  /** Caps how many copies run at once. @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** For asynchronous invocations: where an invocation that failed every attempt is sent. */
  readonly onFailureQueue?: sqs.IQueue;
  /** Retries of a failed asynchronous invocation (0-2). @default 2 */
  readonly retryAttempts?: number;
  /** Age after which an asynchronous invocation is dropped (to `onFailureQueue`). @default 6 hours */
  readonly maxEventAge?: Duration;
  /** Directory holding package.json and package-lock.json. @default - found from the entry */
  readonly projectRoot?: string;
  readonly depsLockFilePath?: string;
  /** Files copied next to the bundle, read by the handler at run time (the registrar's organizations). */
  readonly extraFiles?: readonly string[];
}

/**
 * An IAM condition on a multivalued key (one value per entry or item, e.g. `events:source`,
 * `dynamodb:LeadingKeys`): a set operator, which a plain `StringEquals` is not (IAM would deny), plus a
 * `Null` check, without which a request carrying no value at all would pass the `ForAllValues` test.
 */
export function multivaluedKeyCondition(
  operator: `ForAllValues:${string}` | `ForAnyValue:${string}`,
  key: string,
  values: readonly string[],
): Record<string, Record<string, unknown>> {
  return { [operator]: { [key]: [...values] }, Null: { [key]: 'false' } };
}

/** Bundling hooks that copy `files` into the bundle's directory once esbuild is done. */
function copyAfterBundling(files: readonly string[]) {
  const quote = (path: string) => `'${path.replace(/'/g, "'\\''")}'`;
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_input: string, output: string) => files.map((f) => `cp ${quote(f)} ${quote(output)}/`),
  };
}

export class NutcacheFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: NutcacheFunctionProps) {
    // Created before the function (as siblings) so the function uses them instead of its defaults:
    // a role with no managed policy, allowed to write only to this function's own log group.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );

    super(scope, id, {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      role,
      onFailure: props.onFailureQueue ? new SqsDestination(props.onFailureQueue) : undefined,
      retryAttempts: props.retryAttempts,
      maxEventAge: props.maxEventAge,
      projectRoot: props.projectRoot,
      depsLockFilePath: props.depsLockFilePath,
      awsSdkConnectionReuse: false,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        // Stack traces point into the TypeScript sources through the bundled source map.
        NODE_OPTIONS: [
          '--enable-source-maps',
          ...(props.maxOldSpaceMb === undefined ? [] : [`--max-old-space-size=${props.maxOldSpaceMb}`]),
        ].join(' '),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        bundleAwsSDK: true,
        externalModules: [],
        forceDockerBundling: false,
        ...(props.extraFiles?.length ? { commandHooks: copyAfterBundling(props.extraFiles) } : {}),
      },
    });
  }

  /**
   * Acknowledges the cdk-nag findings every project function has by design, with their reasons, plus the
   * caller's own (how this function's failures are handled). Call it after the grants: the X-Ray policy
   * statement is only there once the role's default policy exists.
   */
  acknowledgeFindings(...own: readonly { readonly id: string; readonly reason: string }[]): this {
    const pinned =
      'Node.js 22 is pinned on purpose: the code is built (esbuild target node22) and tested for it; moving to a newer runtime is a tested change, not an automatic one.';
    Validations.of(this).acknowledge(
      { id: 'Serverless-LambdaLatestVersion', reason: pinned },
      { id: 'AwsSolutions-L1', reason: pinned },
      ...own,
    );
    const policy = this.role?.node.tryFindChild('DefaultPolicy');
    if (policy) {
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions: AWS requires "*".',
      });
    }
    return this;
  }

  /** Sets a plain (non-secret, non-resource) setting such as `DAILY_REQUEST_BUDGET`. */
  withSetting(name: EnvVarName, value: string): this {
    this.addEnvironment(name, value);
    return this;
  }

  /**
   * `TABLE_NAME` + exactly `actions` (the calls the function makes, e.g. `dynamodb:Query`) on this table:
   * not CDK's read/write grant, which adds Scan, ConditionCheckItem, DescribeTable and stream actions.
   */
  useTable(table: dynamodb.ITable, actions: readonly `dynamodb:${string}`[]): this {
    this.addEnvironment(ENV.tableName, table.tableName);
    table.grant(this, ...actions);
    return this;
  }

  /**
   * `TABLE_NAME` + exactly `actions` (e.g. `dynamodb:PutItem`) on this table, and only on items whose partition
   * key matches `leadingKeyPattern` (IAM condition `dynamodb:LeadingKeys`, `*` as wildcard, e.g. `WEBHOOK#*`).
   * For functions that touch a few items of their own, not the table's data.
   */
  useTableItems(
    table: dynamodb.ITable,
    actions: readonly `dynamodb:${string}`[],
    leadingKeyPattern: string,
  ): this {
    this.addEnvironment(ENV.tableName, table.tableName);
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...actions],
        resources: [table.tableArn],
        conditions: multivaluedKeyCondition('ForAllValues:StringLike', 'dynamodb:LeadingKeys', [
          leadingKeyPattern,
        ]),
      }),
    );
    table.encryptionKey?.grantEncryptDecrypt(this);
    return this;
  }

  /** `actions` on the items of exactly one partition of `table` (`dynamodb:LeadingKeys` equals `partitionKey`). */
  allowPartition(
    table: dynamodb.ITable,
    actions: readonly `dynamodb:${string}`[],
    partitionKey: string,
  ): this {
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...actions],
        resources: [table.tableArn],
        conditions: multivaluedKeyCondition('ForAllValues:StringEquals', 'dynamodb:LeadingKeys', [
          partitionKey,
        ]),
      }),
    );
    return this;
  }

  /**
   * `EVENT_BUS_NAME` + `EVENT_SOURCE` + `events:PutEvents` on exactly this bus, and only when every entry's
   * `source` is `source` (IAM condition `events:source`, multivalued: one value per entry).
   */
  useBus(bus: events.IEventBus, source: string): this {
    this.addEnvironment(ENV.eventBusName, bus.eventBusName);
    this.addEnvironment(ENV.eventSource, source);
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
        conditions: multivaluedKeyCondition('ForAllValues:StringEquals', 'events:source', [source]),
      }),
    );
    return this;
  }

  /** `DEAD_LETTER_QUEUE_URL` + `sqs:SendMessage` on exactly this queue. */
  useDeadLetterQueue(queue: sqs.IQueue): this {
    this.addEnvironment(ENV.deadLetterQueueUrl, queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }

  /** A secret's ARN under `name` (e.g. `WEBHOOK_SECRET_ARN`) + read access on exactly that secret. */
  useSecret(name: EnvVarName, secret: secretsmanager.ISecret): this {
    this.addEnvironment(name, secret.secretArn);
    secret.grantRead(this);
    return this;
  }

  /** A function's name under `name` (e.g. `POLLER_FUNCTION_NAME`) + `lambda:InvokeFunction` on it. */
  useFunction(name: EnvVarName, fn: lambda.IFunction): this {
    this.addEnvironment(name, fn.functionName);
    fn.grantInvoke(this);
    return this;
  }
}
