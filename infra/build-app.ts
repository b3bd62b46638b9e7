/**
 * Builds the CDK app: reads and validates the configuration, creates the stack and registers the cdk-nag
 * packs (AwsSolutions and Serverless) as policy-validation plugins, so `cdk synth` fails on any
 * unacknowledged error finding. Used by infra/app.ts and by the tests.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import { ConfigError, loadConfig, type NutcacheCdcConfig, resolveConfigPath } from './config.ts';
import { REPO_ROOT } from './paths.ts';
import { NutcacheCdcStack } from './stacks/nutcache-cdc-stack.ts';

export interface BuildAppOptions {
  /** Use this configuration instead of reading a file. */
  readonly config?: NutcacheCdcConfig;
  /** Extra CDK context (e.g. `config`, or `aws:cdk:bundling-stacks: []` to skip bundling). */
  readonly context?: AppProps['context'];
  readonly outdir?: string;
  /** The poller handler file. @default functions/poller.ts */
  readonly pollerEntry?: string;
  /** CDK's built-in CloudFormation template validation (slow: several seconds). @default true */
  readonly builtinCloudFormationValidation?: boolean;
}

export interface NutcacheCdcApp {
  readonly app: App;
  readonly stack: NutcacheCdcStack;
  readonly config: NutcacheCdcConfig;
  /** The configuration file read, when one was. */
  readonly configPath?: string;
  /** The registered cdk-nag packs (tests run them with `validateScope`). */
  readonly nagPacks: readonly NagPack[];
}

/** `NutcacheCdc-<environmentName>`. */
export function stackNameFor(config: NutcacheCdcConfig): string {
  return `NutcacheCdc-${config.environmentName}`;
}

/**
 * The `context` of cdk.json (CDK's recommended feature flags). The CLI passes it to the app itself; the
 * tests, which build the app without the CLI, get the same flags from here (CLI context still wins).
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(resolve(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export function buildApp(options: BuildAppOptions = {}): NutcacheCdcApp {
  const app = new App({
    context: { ...cdkJsonContext(), ...options.context },
    outdir: options.outdir,
    builtinCloudFormationValidation: options.builtinCloudFormationValidation,
  });
  let configPath: string | undefined;
  let config = options.config;
  if (config === undefined) {
    configPath = resolveConfigPath(app.node.tryGetContext('config'));
    config = loadConfig(configPath);
  }
  const stack = stackOf(app, config, options.pollerEntry, configPath);
  const nagPacks = [new AwsSolutionsChecks(app), new ServerlessChecks(app)];
  Validations.of(app).addPlugins(...nagPacks);
  return { app, stack, config, configPath, nagPacks };
}

/** The stack; a configuration error found while building it (its rules file) names the configuration file. */
function stackOf(
  app: App,
  config: NutcacheCdcConfig,
  pollerEntry: string | undefined,
  configPath: string | undefined,
): NutcacheCdcStack {
  try {
    return new NutcacheCdcStack(app, stackNameFor(config), {
      config,
      pollerEntry,
      // Environment-agnostic unless the configuration pins an account/region: synth needs no credentials.
      env:
        config.account !== undefined || config.region !== undefined
          ? { account: config.account, region: config.region }
          : undefined,
    });
  } catch (error) {
    if (error instanceof ConfigError && configPath) throw new ConfigError(configPath, error.issues);
    throw error;
  }
}
