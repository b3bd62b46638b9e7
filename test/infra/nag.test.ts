import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.ts';
import {
  configWith,
  GUID_A,
  GUID_B,
  GUID_C,
  nagFindings,
  STAND_IN_POLLER,
  synthesise,
} from './fixtures/synth.ts';

const variants = {
  'one organization (defaults)': {},
  'several organizations, alarm e-mail, imported secrets': {
    alarmEmail: 'ops@example.com',
    organizations: [
      { organizationGuid: GUID_A },
      { organizationGuid: GUID_B, secret: { type: 'import' as const, name: 'nutcache/beta' } },
      {
        organizationGuid: GUID_C,
        secret: {
          type: 'import' as const,
          arn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache/gamma-AbC123',
        },
      },
    ],
  },
  'CRM sync rules: HubSpot and Salesforce API destinations (examples/crm-rules.yaml)': {
    syncRulesFile: 'examples/crm-rules.yaml',
  },
  'imported event bus, table not retained': {
    eventBus: { type: 'import' as const, arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/shared' },
    retainTable: false,
  },
};

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgements(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** The packs with acknowledgements ignored: what cdk-nag would report if nothing were acknowledged. */
function packsIgnoringAcknowledgements(): NagPack[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].map((pack) =>
    Object.assign(pack, { isAcknowledged: () => false }),
  );
}

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  describe.each(Object.entries(variants))('%s', (_name, overrides) => {
    const built = synthesise(overrides);

    it('reports no unacknowledged finding, error or warning', () => {
      expect(nagFindings(built)).toEqual([]);
    });

    it('gives every acknowledgement a written reason and needs each one', () => {
      const acks = acknowledgements(built.app);
      expect(acks.length).toBeGreaterThan(0);
      for (const ack of acks) {
        expect(ack.id).toMatch(/^(AwsSolutions|Serverless)-/);
        expect(ack.reason.length, `${ack.id} on ${ack.path}`).toBeGreaterThanOrEqual(40);
      }
      const raw = new Set(
        packsIgnoringAcknowledgements().flatMap((pack) =>
          pack.validateScope(built.app).violations.map((v) => v.ruleName),
        ),
      );
      const unneeded = acks.filter((ack) => !raw.has(ack.id));
      expect(unneeded, 'acknowledgements of rules that no longer fire').toEqual([]);
    });
  });

  it('fails synthesis, and the assertion above, when a stack breaks a rule', () => {
    const built = buildApp({
      config: configWith(),
      pollerEntry: STAND_IN_POLLER,
      builtinCloudFormationValidation: false,
      context: { 'aws:cdk:bundling-stacks': [] },
    });
    const throwaway = new Stack(built.app, 'Throwaway');
    new sqs.Queue(throwaway, 'PlainQueue', {
      encryption: sqs.QueueEncryption.UNENCRYPTED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const findings = nagFindings(built, throwaway);
    const rules = findings.map((f) => f.rule);
    expect(rules).toEqual(
      expect.arrayContaining([
        'AwsSolutions-SQS2',
        'AwsSolutions-SQS3',
        'AwsSolutions-SQS4',
        'Serverless-SQSRedrivePolicy',
      ]),
    );
    expect(findings.every((f) => f.paths.every((p) => p.startsWith('Throwaway/')))).toBe(true);
    expect(() => built.app.synth()).toThrowError(/AwsSolutions-SQS4/);
  });

  it('lets the real app synthesise with the packs and CDK’s CloudFormation validation switched on', () => {
    const built = synthesise({}, { cfnValidation: true });
    const assembly = built.app.synth();
    expect(assembly.getStackByName(built.stack.stackName).template.Resources).toBeDefined();
  }, 120_000);
});
