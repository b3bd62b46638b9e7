/**
 * The whole product in one stack: the snapshot table (which also holds the registry of organizations), the
 * event bus with its archive and schema registry, the poll queue and the poller consuming it, the schedule
 * group and role the organizations' schedules use, the dead-letter queues, and the alarms and dashboard.
 * Organizations are data: the stack's resources and every function's environment are the same for 1 and for
 * 2,000 organizations (docs/organizations.md). The main resources are public fields so further constructs (CRM sync rules,
 * webhook delivery, "sync now") can be added to the stack later.
 *
 * The constructor is the list of steps; each step lives in its own module of this folder. The steps create
 * their resources directly in the stack (not in nested constructs): a resource's logical id, hence the
 * deployed resource, is derived from its construct path, which must not change.
 */
import { type CustomResource, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { NutcacheCdcConfig } from '../config.ts';
import type { CustomerSyncRule } from '../constructs/customer-sync-rule.ts';
import type { NutcacheFunction } from '../constructs/nutcache-function.ts';
import { PollerMetrics } from '../constructs/poller-metrics.ts';
import type { SyncNowEndpoint } from '../constructs/sync-now-endpoint.ts';
import type { EventSchemaDocument } from '../event-schemas.ts';
import { REPO_ROOT } from '../paths.ts';
import { createAlarmTopic } from './alarm-topic.ts';
import { createDashboard } from './dashboard.ts';
import { createEventBus } from './event-bus.ts';
import { secretNamePrefix } from './organization-credentials.ts';
import { addOutputs } from './outputs.ts';
import { createPollQueues } from './poll-queue.ts';
import { createPoller, POLLER_TIMEOUT, pollerServiceName } from './poller.ts';
import { createRegistrar } from './registrar.ts';
import { createScheduling, warnAboutScheduleBudgets } from './scheduling.ts';
import { createServiceAlarms } from './service-alarms.ts';
import { createState } from './state.ts';
import { addConfiguredSyncRules, createSyncNow, syncNowWanted } from './sync.ts';

export { REPO_ROOT } from '../paths.ts';

export interface NutcacheCdcStackProps extends StackProps {
  readonly config: NutcacheCdcConfig;
  /** The poller handler file. @default DEFAULT_POLLER_ENTRY */
  readonly pollerEntry?: string;
  /** Where package.json / package-lock.json live (bundling). @default REPO_ROOT */
  readonly projectRoot?: string;
}

export class NutcacheCdcStack extends Stack {
  readonly config: NutcacheCdcConfig;
  /** `source` of every published event. */
  readonly eventSource: string;
  readonly table: dynamodb.Table;
  readonly bus: events.IEventBus;
  /** True when the stack created the bus (false: imported). */
  readonly busCreated: boolean;
  readonly archive: events.Archive;
  readonly schemaRegistry: eventschemas.CfnRegistry;
  readonly eventSchemas: readonly eventschemas.CfnSchema[];
  /** Where the change-event schema came from: the committed file or generated from the contract. */
  readonly changeEventSchemaOrigin: EventSchemaDocument['origin'];
  /** Events the poller could never publish (the poller's `DEAD_LETTER_QUEUE_URL`). */
  readonly deadLetterQueue: sqs.Queue;
  /** Poll invocations that failed: Scheduler's dead-letter queue and the poller's async on-failure destination. */
  readonly pollFailureQueue: sqs.Queue;
  /** One message per scheduled poll (FIFO, one message group per API key), consumed by the poller. */
  readonly pollQueue: sqs.Queue;
  /** Poll messages that failed every receive. */
  readonly pollDeadLetterQueue: sqs.Queue;
  readonly poller: NutcacheFunction;
  readonly pollerMetrics: PollerMetrics;
  /** The group of every organization's schedule (created at run time, not by the stack). */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role every organization's schedule assumes (sends to the poll queue). */
  readonly schedulerRole: iam.Role;
  /** Registers the configuration's organizations and their schedules at every deploy that changes them. */
  readonly registrar: CustomResource;
  /** Organization secrets are named `<secretNamePrefix><GUID>` (or tagged; organization-credentials.ts). */
  readonly secretNamePrefix: string;
  /** Alarm notifications (only when `alarmEmail` is configured). */
  readonly alarmTopic?: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** CRM sync rules of `syncRulesFile` (docs/sync-rules.md). */
  readonly syncRules: readonly CustomerSyncRule[] = [];
  /** The inbound "sync now" webhook, when the config's `syncNow` (or the context value `nutcache-cdc:syncNow`) is true. */
  readonly syncNow?: SyncNowEndpoint;

  constructor(scope: Construct, id: string, props: NutcacheCdcStackProps) {
    super(scope, id, {
      description: `nutcache-cdc (${props.config.environmentName}): Nutcache customer change events on EventBridge`,
      ...props,
    });
    const config = props.config;
    const env = config.environmentName;
    this.config = config;
    this.eventSource = config.eventSource;
    Tags.of(this).add('project', 'nutcache-cdc');
    Tags.of(this).add('environment', env);

    // State, alarm topic, event bus
    const state = createState(this, config);
    this.table = state.table;
    this.deadLetterQueue = state.deadLetterQueue;
    this.pollFailureQueue = state.pollFailureQueue;
    if (config.alarmEmail !== undefined) this.alarmTopic = createAlarmTopic(this, env, config.alarmEmail);
    const eventBus = createEventBus(this, config);
    this.bus = eventBus.bus;
    this.busCreated = eventBus.busCreated;
    this.archive = eventBus.archive;
    this.schemaRegistry = eventBus.schemaRegistry;
    this.eventSchemas = eventBus.eventSchemas;
    this.changeEventSchemaOrigin = eventBus.changeEventSchemaOrigin;

    // The poll queue, the poller consuming it, and what the organizations' schedules share
    const queues = createPollQueues(this, POLLER_TIMEOUT);
    this.pollQueue = queues.pollQueue;
    this.pollDeadLetterQueue = queues.pollDeadLetterQueue;
    this.secretNamePrefix = secretNamePrefix(env);
    this.pollerMetrics = new PollerMetrics(pollerServiceName(env));
    this.poller = createPoller(this, {
      ...state,
      config,
      pollQueue: this.pollQueue,
      bus: this.bus,
      entry: props.pollerEntry,
      projectRoot: props.projectRoot ?? REPO_ROOT,
    });
    warnAboutScheduleBudgets(this, config);
    const scheduling = createScheduling(this, env, { ...state, pollQueue: this.pollQueue });
    this.scheduleGroup = scheduling.scheduleGroup;
    this.schedulerRole = scheduling.schedulerRole;
    // The configuration's organizations, registered at deploy (declarative path)
    this.registrar = createRegistrar(this, {
      ...state,
      ...scheduling,
      config,
      pollQueue: this.pollQueue,
      eventBusName: this.bus.eventBusName,
      projectRoot: props.projectRoot ?? REPO_ROOT,
    });

    // The service's alarms, dashboard and outputs
    const watched = { ...config, ...state, pollerMetrics: this.pollerMetrics, poller: this.poller };
    for (const alarm of createServiceAlarms(this, watched)) this.addAlarm(alarm);
    this.dashboard = createDashboard(this, {
      ...watched,
      ...queues,
      alarms: this.alarms,
      pollerLogGroup: this.poller.logGroup,
    });
    addOutputs(this, {
      ...state,
      ...eventBus,
      poller: this.poller,
      ...queues,
      dashboard: this.dashboard,
      scheduleGroupName: this.scheduleGroup.scheduleGroupName,
      secretNamePrefix: this.secretNamePrefix,
      alarmTopic: this.alarmTopic,
    });

    // CRM sync rules, signed webhooks, inbound "sync now" (docs/sync-rules.md, docs/webhooks.md)
    this.syncRules = addConfiguredSyncRules(this, config, this.bus, this.alarmTopic);
    if (syncNowWanted(this, config)) {
      this.syncNow = createSyncNow(this, config, { table: this.table, pollQueue: this.pollQueue });
    }
  }

  /** Adds an alarm to the stack's alarm list and, when configured, to the alarm e-mail topic. */
  addAlarm(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    if (this.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(this.alarmTopic);
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    this.alarms.push(alarm);
    return alarm;
  }
}
