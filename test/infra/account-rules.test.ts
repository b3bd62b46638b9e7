/**
 * The account-rules checker (test/support/account-rules.ts): the stack with everything switched on breaks
 * none of the rules a real account enforces, and each rule catches its defect when one is put back into
 * that template.
 */

import { describe, expect, it } from 'vitest';
import type { NutcacheCdcConfig } from '../../infra/config.ts';
import {
  ACCOUNT_RULES,
  type AccountRule,
  checkAccountRules,
  LAMBDA_ENVIRONMENT_LIMIT,
} from '../support/account-rules.ts';
import { FULL_CONFIG, nagFindings, synthesise } from './fixtures/synth.ts';

type Json = Record<string, unknown>;
type TemplateJson = { Resources: Record<string, Json & { Type: string; Properties: Json }>; Outputs: Json };

const full = synthesise(FULL_CONFIG);
const fullTemplate = full.template.toJSON() as TemplateJson;

/** A copy of the full template with one defect put back. */
function withDefect(change: (template: TemplateJson) => void): TemplateJson {
  const copy = structuredClone(fullTemplate);
  change(copy);
  return copy;
}

const rulesBrokenBy = (template: unknown, config: NutcacheCdcConfig = full.config): AccountRule[] => [
  ...new Set(checkAccountRules(template, config).map((v) => v.rule)),
];

function resourceOf(template: TemplateJson, type: string, match: (props: Json) => boolean = () => true) {
  const found = Object.entries(template.Resources).find(([, r]) => r.Type === type && match(r.Properties));
  if (!found) throw new Error(`no ${type} in the template`);
  return found[1];
}

const isPoller = (p: Json) =>
  String(
    ((p.Environment as Json | undefined)?.Variables as Json | undefined)?.POWERTOOLS_SERVICE_NAME,
  ).startsWith('nutcache-cdc-poller-');

describe('the account rules', () => {
  it('are all passed by the stack with everything switched on, with no cdk-nag finding', () => {
    expect(checkAccountRules(fullTemplate, full.config)).toEqual([]);
    expect(nagFindings(full)).toEqual([]);
  });

  it('lists a description for each rule', () => {
    for (const description of Object.values(ACCOUNT_RULES)) expect(description.length).toBeGreaterThan(20);
  });
});

describe('each rule catches its defect', () => {
  const cases: [AccountRule, string, (t: TemplateJson) => void][] = [
    [
      'lambda-environment-size',
      'a variable that takes the environment past 4 KB',
      (t) => {
        const fn = resourceOf(t, 'AWS::Lambda::Function', isPoller);
        ((fn.Properties.Environment as Json).Variables as Json).EXTRA = 'x'.repeat(LAMBDA_ENVIRONMENT_LIMIT);
      },
    ],
    [
      'lambda-environment-size',
      'a variable of 30 secret ARNs (Ref counted at ARN length)',
      (t) => {
        const variables = (resourceOf(t, 'AWS::Lambda::Function', isPoller).Properties.Environment as Json)
          .Variables as Json;
        variables.MORE = { 'Fn::Join': ['', Array.from({ length: 30 }, () => ({ Ref: 'SomeSecret' }))] };
      },
    ],
    [
      'reserved-concurrency',
      'a reservation the configuration does not ask for',
      (t) => {
        resourceOf(t, 'AWS::Lambda::Function', isPoller).Properties.ReservedConcurrentExecutions = 4;
      },
    ],
    [
      'retained-fixed-name',
      'the schedule group retained with its fixed name',
      (t) => {
        resourceOf(t, 'AWS::Scheduler::ScheduleGroup').DeletionPolicy = 'Retain';
      },
    ],
    [
      'stack-resource-count',
      '500 more resources',
      (t) => {
        for (let i = 0; i < 500; i++) t.Resources[`Extra${i}`] = { Type: 'AWS::SQS::Queue', Properties: {} };
      },
    ],
    [
      'stack-output-count',
      '200 more outputs',
      (t) => {
        for (let i = 0; i < 200; i++) t.Outputs[`Extra${i}`] = { Value: 'x' };
      },
    ],
    [
      'template-size',
      'a template over 1 MB',
      (t) => {
        (t as unknown as Json).Metadata = { padding: 'x'.repeat(1_100_000) };
      },
    ],
    [
      'role-policy-size',
      'a poller policy over 10,240 characters',
      (t) => {
        const policy = resourceOf(t, 'AWS::IAM::Policy', (p) =>
          JSON.stringify(p.Roles).includes('PollerRole'),
        );
        const document = policy.Properties.PolicyDocument as { Statement: unknown[] };
        for (let i = 0; i < 80; i++) {
          document.Statement.push({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Resource: { Ref: `Queue${i}` },
          });
        }
      },
    ],
    [
      'alarm-topic-publish',
      'a topic policy without the CloudWatch allow (enforceSSL alone)',
      (t) => {
        const document = resourceOf(t, 'AWS::SNS::TopicPolicy').Properties.PolicyDocument as {
          Statement: Json[];
        };
        document.Statement = document.Statement.filter((s) => s.Effect !== 'Allow');
      },
    ],
    [
      'alarm-topic-publish',
      'an allow whose alarm ARN pattern misses the sync-rule and webhook alarms',
      (t) => {
        const document = resourceOf(t, 'AWS::SNS::TopicPolicy').Properties.PolicyDocument as {
          Statement: { Effect: string; Condition?: { ArnLike: Json } }[];
        };
        const allow = document.Statement.find((s) => s.Effect === 'Allow');
        if (allow?.Condition)
          allow.Condition.ArnLike['aws:SourceArn'] = 'arn:aws:cloudwatch:*:*:alarm:nutcache-cdc-full-stale-*';
      },
    ],
    [
      'alarm-topic-publish',
      'a topic key that CloudWatch may not use',
      (t) => {
        const key = resourceOf(t, 'AWS::KMS::Key').Properties.KeyPolicy as { Statement: Json[] };
        key.Statement = key.Statement.filter((s) => !JSON.stringify(s.Principal).includes('cloudwatch'));
      },
    ],
    [
      'lambda-target-permission',
      'no Lambda::Permission for the imported rule-target function (env-agnostic import)',
      (t) => {
        for (const [id, r] of Object.entries(t.Resources)) {
          if (r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'events.amazonaws.com')
            delete t.Resources[id];
        }
      },
    ],
    [
      'lambda-target-permission',
      'a permission for another rule',
      (t) => {
        const permission = resourceOf(
          t,
          'AWS::Lambda::Permission',
          (p) => p.Principal === 'events.amazonaws.com',
        );
        permission.Properties.SourceArn = { 'Fn::GetAtt': ['SomeOtherRule', 'Arn'] };
      },
    ],
    [
      'empty-kms-key-identifier',
      'the archive with KmsKeyIdentifier ""',
      (t) => {
        resourceOf(t, 'AWS::Events::Archive').Properties.KmsKeyIdentifier = '';
      },
    ],
    [
      'multivalued-condition-key',
      'StringEquals on events:source',
      (t) => {
        const statement = pollerStatement(t, 'events:PutEvents');
        statement.Condition = { StringEquals: { 'events:source': 'nutcache.customers' } };
      },
    ],
    [
      'multivalued-condition-key',
      'ForAllValues on events:source without the Null check',
      (t) => {
        const statement = pollerStatement(t, 'events:PutEvents');
        delete (statement.Condition as Json).Null;
      },
    ],
    [
      'api-destination-https',
      'a CRM API destination on plain http',
      (t) => {
        const destination = resourceOf(t, 'AWS::Events::ApiDestination');
        destination.Properties.InvocationEndpoint =
          'http://api.hubapi.com/crm/v3/objects/companies/batch/upsert';
      },
    ],
    [
      'rule-input-transformer',
      'a CRM rule target whose template names a variable its paths map lacks',
      (t) => {
        const rule = resourceOf(t, 'AWS::Events::Rule', (p) =>
          ((p.Targets as Json[] | undefined) ?? []).some((target) => target.InputTransformer !== undefined),
        );
        const target = (rule.Properties.Targets as Json[]).find((x) => x.InputTransformer !== undefined);
        (target?.InputTransformer as Json).InputTemplate = '{"name": <nobody>}';
      },
    ],
  ];

  it.each(cases)('%s: %s', (rule, _defect, change) => {
    expect(rulesBrokenBy(withDefect(change))).toEqual([rule]);
  });

  it('accepts a reservation the configuration asks for', () => {
    const template = withDefect((t) => {
      resourceOf(t, 'AWS::Lambda::Function', isPoller).Properties.ReservedConcurrentExecutions = 4;
    });
    expect(rulesBrokenBy(template, { ...full.config, pollerReservedConcurrency: 4 })).toEqual([]);
  });
});

function pollerStatement(template: TemplateJson, action: string): Json {
  const policy = resourceOf(template, 'AWS::IAM::Policy', (p) =>
    JSON.stringify(p.Roles).includes('PollerRole'),
  );
  const statement = (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement.find((s) =>
    JSON.stringify(s.Action).includes(action),
  );
  if (!statement) throw new Error(`no ${action} statement`);
  return statement;
}
