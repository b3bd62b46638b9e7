/**
 * The deployment configuration: one JSON file in the repository (`nutcache-cdc.config.json`, or the file
 * named by the CDK context value `config`), validated here with zod so a mistake is reported with the
 * name of the field at fault before anything is synthesised.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_POLLER_MEMORY_MB,
  HEADROOM,
  MAX_POLLER_MEMORY_MB,
  MIN_POLLER_MEMORY_MB,
  maxCustomersForMemory,
  memoryMbForCustomers,
} from '../shared/engine/memory-fit.ts';
import { DEFAULT_EVENT_SOURCE } from '../shared/events/contract.ts';
import { DEFAULT_RATE_LIMIT } from '../shared/nutcache/rate-limiter.ts';
import { DEFAULT_DAILY_BUDGET, PAGE_SIZE } from '../shared/quota/budget.ts';

/** The file the app reads when no `config` context value is given. */
export const DEFAULT_CONFIG_FILE = 'nutcache-cdc.config.json';
/** The committed example, read when {@link DEFAULT_CONFIG_FILE} does not exist. */
export const EXAMPLE_CONFIG_FILE = 'nutcache-cdc.config.example.json';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const EVENT_BUS_ARN = /^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]+$/;

const initialEventsSchema = z.enum(['snapshot', 'none'], {
  error:
    'must be "snapshot" (publish a Customer Snapshot event per existing customer on the first poll) or "none"',
});

const secretSchema = z.discriminatedUnion(
  'type',
  [
    /**
     * The stack creates and keeps the secret (construct id `Org<GUID>Secret`, retained, tagged for the
     * poller's ABAC grant): what an organization without `secret` meant in the previous version, so a
     * deployment upgraded in place keeps its secrets. One stack resource per organization.
     */
    z.strictObject({ type: z.literal('create') }),
    /** `nutcache-cdc/<environment>/organizations/<GUID>`, put by the operator: no stack resource. */
    z.strictObject({ type: z.literal('convention') }),
    z
      .strictObject({
        type: z.literal('import'),
        name: z.string().min(1, 'must not be empty').optional(),
        arn: z.string().regex(SECRET_ARN, 'must be a Secrets Manager secret ARN').optional(),
        /**
         * The customer managed KMS key the secret is encrypted with, when it is not Secrets Manager's
         * default key: the poller may then decrypt with it, through Secrets Manager only (`kms:ViaService`).
         */
        kmsKeyArn: z
          .string()
          .regex(KMS_KEY_ARN, 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)')
          .optional(),
      })
      .refine((s) => (s.name === undefined) !== (s.arn === undefined), {
        message: 'an imported secret needs exactly one of "name" or "arn"',
      }),
  ],
  {
    error: 'must be {"type": "create"}, {"type": "convention"} or {"type": "import", "name" | "arn": …}',
  },
);

const organizationSchema = z.strictObject({
  organizationGuid: z
    .string({ error: 'is required (the organization GUID Nutcache shows in its settings)' })
    .regex(GUID, 'must be a GUID like 846E176E-7C4B-4BFD-A894-C98F2988927E'),
  /** A label for dashboards and alarm descriptions. */
  label: z.string().min(1).max(64).optional(),
  secret: secretSchema.default({ type: 'create' }),
  scheduleRateMinutes: z
    .number({ error: 'must be a whole number of minutes' })
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1 minute')
    .max(1440, 'must be at most 1440 minutes (one day)')
    .default(15),
  initialEvents: initialEventsSchema.optional(),
  /** Customers the organization is expected to hold: sizes the synth-time quota check (docs/quota.md). */
  expectedCustomers: z.number().int('must be a whole number').min(0, 'must be 0 or more').optional(),
  /**
   * Organizations with the same group share one Nutcache API key: their polls run one at a time (one
   * message group of the poll queue) and share one daily budget. Default: a group of its own.
   */
  apiKeyGroup: z.string().min(1, 'must not be empty').optional(),
});

const eventBusSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('create'),
      name: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,256}$/, 'may contain letters, digits, ".", "_" and "-" only')
        .optional(),
    }),
    z
      .strictObject({
        type: z.literal('import'),
        name: z
          .string()
          .regex(/^[A-Za-z0-9._\-/]{1,256}$/, 'must be an event bus name')
          .optional(),
        arn: z.string().regex(EVENT_BUS_ARN, 'must be an event bus ARN').optional(),
      })
      .refine((b) => (b.name === undefined) !== (b.arn === undefined), {
        message: 'an imported event bus needs exactly one of "name" or "arn"',
      }),
  ],
  { error: 'must be {"type": "create"} or {"type": "import", "name" | "arn": …}' },
);

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    /** Used in resource names, the stack name and the `environment` tag. */
    environmentName: z
      .string({ error: 'is required (e.g. "prod")' })
      .regex(
        /^[a-z][a-z0-9-]{0,19}$/,
        'must be 1-20 lower-case letters, digits or "-", starting with a letter',
      ),
    /** Pins the stack to an account/region; leave out for an environment-agnostic stack. */
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')
      .optional(),
    organizations: z
      .array(organizationSchema, { error: 'must be a list of organizations' })
      .min(1, 'must list at least one organization'),
    initialEvents: initialEventsSchema.default('snapshot'),
    eventSource: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,256}$/, 'must be a valid EventBridge source')
      .refine((s) => !s.startsWith('aws.'), 'must not start with "aws." (reserved by AWS)')
      .default(DEFAULT_EVENT_SOURCE),
    eventBus: eventBusSchema.default({ type: 'create' }),
    archiveRetentionDays: z
      .number()
      .int('must be a whole number of days')
      .min(0, 'must be 0 (keep forever) or more')
      .default(90),
    alarmEmail: z.email('must be an e-mail address').optional(),
    retainTable: z.boolean().default(true),
    dailyRequestBudget: z
      .number()
      .int('must be a whole number of requests')
      .min(1, 'must be at least 1')
      .max(DEFAULT_DAILY_BUDGET, `must not exceed Nutcache's daily quota of ${DEFAULT_DAILY_BUDGET}`)
      .default(DEFAULT_DAILY_BUDGET),
    /** Memory of the poller function (MB); an organization's expectedCustomers must fit it (docs/performance.md). */
    pollerMemoryMb: z
      .number()
      .int('must be a whole number of MB')
      .min(MIN_POLLER_MEMORY_MB, `must be at least ${MIN_POLLER_MEMORY_MB} MB (Lambda's minimum)`)
      .max(MAX_POLLER_MEMORY_MB, `must be at most ${MAX_POLLER_MEMORY_MB} MB (Lambda's maximum)`)
      .default(DEFAULT_POLLER_MEMORY_MB),
    /**
     * Reserved concurrency of the poller (at most this many copies run at once). Unset by default: a
     * reservation fails the first deploy on an account whose concurrency quota is small (new accounts may
     * have 10, and Lambda keeps 100 unreserved); the poll lease already prevents overlapping polls of one
     * organization. Set it only on an account with room for it.
     */
    pollerReservedConcurrency: z.number().int().min(1, 'must be at least 1').optional(),
    /**
     * Reserved concurrency of the public "sync now" function, capping what a flood of (rejected) requests
     * can cost. Unset by default, for the same reason as `pollerReservedConcurrency`.
     */
    syncNowReservedConcurrency: z.number().int().min(1, 'must be at least 1').optional(),
    /** Stale-organization alarm: fires when an organization has had no successful poll for this many intervals. */
    staleAfterIntervals: z.number().int().min(1, 'must be at least 1').default(3),
    /** Throttling alarm: fires when Nutcache answered 429 at least this many times in 15 minutes. */
    throttledRequestsThreshold: z.number().int().min(1, 'must be at least 1').default(5),
    logRetentionDays: z
      .union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(180), z.literal(365)], {
        error: 'must be one of 7, 14, 30, 90, 180, 365',
      })
      .default(30),
    /** CRM sync rules (YAML/JSON); loaded by the sync-rules constructs, passed through untouched here. */
    syncRulesFile: z.string().min(1, 'must not be empty').optional(),
    /** Deploy the inbound "sync now" webhook (a Lambda function URL; docs/webhooks.md). */
    syncNow: z.boolean().default(false),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.organizations.forEach((org, index) => {
      const issue = (field: string, message: string) =>
        ctx.addIssue({ code: 'custom', path: ['organizations', index, field], message });
      // Polls sharing an API key run one at a time (one FIFO message group per key), each at its full rate.
      if (org.expectedCustomers !== undefined) {
        const minutes = listingMinutes(org.expectedCustomers);
        if (minutes > MAX_LISTING_MINUTES) {
          issue(
            'expectedCustomers',
            `a full listing of ${org.expectedCustomers} customers takes about ${Math.ceil(minutes)} minutes at the API key's rate, more than the poller's ${MAX_LISTING_MINUTES} minutes`,
          );
        }
      }
      const memoryIssue = pollerMemoryIssue(org.expectedCustomers, config.pollerMemoryMb);
      if (memoryIssue) issue('expectedCustomers', memoryIssue);
      const guid = org.organizationGuid.toLowerCase();
      if (seen.has(guid)) issue('organizationGuid', `duplicates organization ${org.organizationGuid}`);
      seen.add(guid);
    });
    const stackSecrets = config.organizations.filter((org) => org.secret.type === 'create').length;
    if (stackSecrets > MAX_STACK_SECRETS) {
      ctx.addIssue({
        code: 'custom',
        path: ['organizations'],
        message: `${stackSecrets} organizations have the stack create their secret ({"type": "create"}, the default), at most ${MAX_STACK_SECRETS} may (each is a stack resource and an output): give the others "secret": {"type": "convention"} (docs/deploy.md)`,
      });
    }
  });

/**
 * Organizations whose secret the stack creates (`{"type": "create"}`): each adds a resource and an output
 * to the template (CloudFormation allows 500 and 200). The previous version took about 13 organizations.
 */
export const MAX_STACK_SECRETS = 50;

/** Time a poll may spend listing: the poller's 15-minute timeout less room to publish and commit. */
export const MAX_LISTING_MINUTES = 13;

/** Why an organization of `customers` does not fit a poller of `memoryMb`, or undefined when it fits. */
function pollerMemoryIssue(customers: number | undefined, memoryMb: number): string | undefined {
  if (customers === undefined || customers <= maxCustomersForMemory(memoryMb)) return undefined;
  return `a poll of ${customers} customers does not fit the poller's memory with ${HEADROOM * 100}% headroom: "pollerMemoryMb" is ${memoryMb}, which fits at most ${maxCustomersForMemory(memoryMb)} customers; set "pollerMemoryMb" to at least ${memoryMbForCustomers(customers)}`;
}

/** Minutes a full listing of `customers` takes at one API key's rate (shared/nutcache/rate-limiter.ts). */
export function listingMinutes(customers: number): number {
  return Math.ceil(customers / PAGE_SIZE) / DEFAULT_RATE_LIMIT.perMinute;
}

export type NutcacheCdcConfig = z.output<typeof configSchema>;
export type NutcacheCdcConfigInput = z.input<typeof configSchema>;
export type OrganizationConfig = NutcacheCdcConfig['organizations'][number];

/** A configuration that failed validation; `issues` name each field at fault. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`Invalid nutcache-cdc configuration (${source}):\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Validates an already-parsed configuration object. */
export function parseConfig(raw: unknown, source = 'configuration'): NutcacheCdcConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => `${fieldPath(issue.path)}: ${issue.message}`),
    );
  }
  return result.data;
}

/**
 * Which file to read: the `config` context value when given (relative to `cwd`), else
 * `nutcache-cdc.config.json` when present, else the committed example.
 */
export function resolveConfigPath(contextValue: unknown, cwd = process.cwd()): string {
  if (contextValue !== undefined && contextValue !== null && contextValue !== '') {
    if (typeof contextValue !== 'string') {
      throw new ConfigError('CDK context', ['config: must be the path of a JSON configuration file']);
    }
    return isAbsolute(contextValue) ? contextValue : resolve(cwd, contextValue);
  }
  const preferred = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(preferred) ? preferred : resolve(cwd, EXAMPLE_CONFIG_FILE);
}

/** Reads and validates a configuration file. */
export function loadConfig(path: string): NutcacheCdcConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new ConfigError(path, [`(file): ${reason}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`(file): not valid JSON: ${(error as Error).message}`]);
  }
  return parseConfig(raw, path);
}
