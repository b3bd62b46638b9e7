/** The event bus (created or imported), its archive for replay and the schema registry of our events. */
import { Duration, type Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import type { NutcacheCdcConfig } from '../config.ts';
import {
  anomalyEventSchema,
  customerChangeEventSchema,
  organizationStaleEventSchema,
} from '../event-schemas.ts';
import { REPO_ROOT } from '../paths.ts';

/** The bus, archive, registry and schemas: the stack keeps them in its fields of the same names. */
export function createEventBus(stack: Stack, config: NutcacheCdcConfig) {
  const { bus, busCreated } = eventBus(stack, config);
  const archive = eventArchive(stack, bus, config);
  const schemaRegistry = new eventschemas.CfnRegistry(stack, 'SchemaRegistry', {
    registryName: `nutcache-cdc-${config.environmentName}`,
    description: 'JSON Schemas of the events nutcache-cdc publishes (download code bindings from here)',
  });
  const changeSchema = customerChangeEventSchema(config.eventSource, REPO_ROOT);
  const documents = [
    { id: 'ChangeEventSchema', document: changeSchema },
    { id: 'AnomalyEventSchema', document: anomalyEventSchema(config.eventSource, REPO_ROOT) },
    {
      id: 'OrganizationStaleEventSchema',
      document: organizationStaleEventSchema(config.eventSource, REPO_ROOT),
    },
  ];
  const eventSchemas = documents.map(
    ({ id, document }) =>
      new eventschemas.CfnSchema(stack, id, {
        registryName: schemaRegistry.attrRegistryName,
        schemaName: document.name,
        type: 'JSONSchemaDraft4',
        description: document.description,
        content: document.content,
      }),
  );
  return {
    bus,
    busCreated,
    archive,
    schemaRegistry,
    eventSchemas,
    changeEventSchemaOrigin: changeSchema.origin,
  };
}

/** The configured bus: created (named `nutcache-cdc-<env>` unless named), or imported by ARN or name. */
function eventBus(stack: Stack, config: NutcacheCdcConfig): { bus: events.IEventBus; busCreated: boolean } {
  const busConfig = config.eventBus;
  const env = config.environmentName;
  if (busConfig.type === 'create') {
    const bus = new events.EventBus(stack, 'Bus', {
      eventBusName: busConfig.name ?? `nutcache-cdc-${env}`,
      description: `Nutcache customer change events (${env})`,
    });
    return { bus, busCreated: true };
  }
  const bus =
    busConfig.arn !== undefined
      ? events.EventBus.fromEventBusArn(stack, 'Bus', busConfig.arn)
      : events.EventBus.fromEventBusName(stack, 'Bus', busConfig.name ?? '');
  return { bus, busCreated: false };
}

/** Every event of our source, kept `archiveRetentionDays` days (0: forever) for replay. */
function eventArchive(stack: Stack, bus: events.IEventBus, config: NutcacheCdcConfig): events.Archive {
  const archive = new events.Archive(stack, 'Archive', {
    sourceEventBus: bus,
    description: `Every ${config.eventSource} event, for replay`,
    eventPattern: { source: [config.eventSource] },
    retention: config.archiveRetentionDays > 0 ? Duration.days(config.archiveRetentionDays) : undefined,
  });
  // CDK renders `KmsKeyIdentifier: ""` when no key is given, which some regions reject: leave it out
  // (the archive is then encrypted with an AWS owned key).
  (archive.node.defaultChild as events.CfnArchive).addPropertyDeletionOverride('KmsKeyIdentifier');
  return archive;
}
