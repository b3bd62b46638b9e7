/**
 * Issue 9: what a real AWS account enforces and loopback stand-ins don't. Each block reproduces one defect
 * of the synthesized template (IAM condition operators, the alarm topic policy, Lambda rule-target
 * permissions, reserved concurrency, retained fixed names, KMS, the stale alarm, feature flags).
 */
import { readFileSync } from 'node:fs';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { NutcacheCdcConfigInput } from '../../infra/config.ts';
import { FULL_CONFIG, synthesise } from './fixtures/synth.ts';

type Json = Record<string, unknown>;
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: Json };

const KMS_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const built = synthesise(FULL_CONFIG);
const { template, stack } = built;
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Json } & Json>;

function ofType(type: string): [string, { Properties: Json } & Json][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type) as [
    string,
    { Properties: Json } & Json,
  ][];
}

function functionByService(prefix: string): [string, Json] {
  const found = ofType('AWS::Lambda::Function').find(([, r]) =>
    String(
      ((r.Properties.Environment as { Variables: Json }).Variables as Json).POWERTOOLS_SERVICE_NAME,
    ).startsWith(prefix),
  );
  if (!found) throw new Error(`no function of service ${prefix}`);
  return [found[0], found[1].Properties];
}

function statementsOf(functionProps: Json): Statement[] {
  const roleId = ((functionProps.Role as Json)['Fn::GetAtt'] as string[])[0];
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const poller = functionByService('nutcache-cdc-poller-')[1];
const syncNow = functionByService('sync-now-')[1];

describe('multivalued condition keys use a set operator and a Null check', () => {
  it('lets the poller PutEvents for every entry whose source is ours, and not when the key is absent', () => {
    const put = statementsOf(poller).filter((s) => actions(s).includes('events:PutEvents'));
    expect(put).toHaveLength(1);
    expect(put[0]?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'events:source': ['nutcache.customers'] },
      Null: { 'events:source': 'false' },
    });
  });

  it("limits sync-now's replay-guard items with dynamodb:LeadingKeys in the set form, key required", () => {
    const items = statementsOf(syncNow).filter((s) => actions(s).includes('dynamodb:PutItem'));
    expect(items.map((s) => s.Condition)).toEqual([
      {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['WEBHOOK#*'] },
        Null: { 'dynamodb:LeadingKeys': 'false' },
      },
    ]);
  });
});

describe('CloudWatch may publish alarms to the alarm topic', () => {
  const policy = ofType('AWS::SNS::TopicPolicy')[0]?.[1].Properties.PolicyDocument as {
    Statement: (Statement & { Principal: unknown })[];
  };
  const allow = policy.Statement.find((s) => s.Effect === 'Allow');

  it('allows cloudwatch.amazonaws.com sns:Publish from this account and this stack’s alarms only', () => {
    expect(allow).toMatchObject({
      Action: 'sns:Publish',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: {
          'aws:SourceArn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':cloudwatch:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':alarm:nutcache-cdc-full-*',
              ],
            ],
          },
        },
      },
    });
  });

  it('covers every alarm that notifies the topic (stack, sync-rule dead letters, webhooks)', () => {
    const topicId = ofType('AWS::SNS::Topic')[0]?.[0];
    const notifying = ofType('AWS::CloudWatch::Alarm').filter(([, a]) =>
      JSON.stringify(a.Properties.AlarmActions ?? []).includes(`"${topicId}"`),
    );
    const names = notifying.map(([, a]) => String(a.Properties.AlarmName));
    expect(names.some((n) => n.includes('-rule-'))).toBe(true);
    expect(names.some((n) => n.includes('-webhook-'))).toBe(true);
    for (const name of names) expect(name.startsWith('nutcache-cdc-full-')).toBe(true);
  });
});

describe('EventBridge may reach every sync-rule target', () => {
  const ruleOf = (arn: string) =>
    ofType('AWS::Events::Rule').find(([, r]) => JSON.stringify(r.Properties.Targets).includes(arn));

  it('gives an imported Lambda target a permission for events.amazonaws.com from its rule', () => {
    const functionArn = 'arn:aws:lambda:eu-west-1:123456789012:function:crm-cleanup';
    const [ruleId] = ruleOf(functionArn) ?? [];
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: functionArn,
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
    expect(
      Annotations.fromStack(stack).findWarning(
        '*',
        Match.stringLikeRegexp('addPermission\\(\\) has no effect'),
      ),
    ).toEqual([]);
  });

  it('in a stack pinned to the function’s account and region, permits its rule too', () => {
    const pinned = synthesise({ ...FULL_CONFIG, account: '123456789012', region: 'eu-west-1' });
    pinned.template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: 'arn:aws:lambda:eu-west-1:123456789012:function:crm-cleanup',
      Principal: 'events.amazonaws.com',
    });
  });

  it.each([
    [
      'Step Functions',
      'arn:aws:states:eu-west-1:123456789012:stateMachine:crm-update',
      'updated-state-machine',
    ],
    [
      'API destination',
      'arn:aws:events:eu-west-1:123456789012:api-destination/crm/abcd1234-ab12-cd34-ef56-abcdef123456',
      'updated-api-destination',
    ],
  ])('lets only its own rule assume the %s target role (aws:SourceArn)', (_kind, targetArn, ruleName) => {
    const [, rule] = ruleOf(targetArn) ?? [];
    const ruleProps = rule?.Properties as Json;
    expect(String(ruleProps.Name)).toContain(ruleName);
    const target = (ruleProps.Targets as Json[])[0] as Json;
    const roleId = ((target.RoleArn as Json)['Fn::GetAtt'] as string[])[0] as string;
    const trust = (resources[roleId] as { Properties: Json }).Properties.AssumeRolePolicyDocument as {
      Statement: Statement[];
    };
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Condition: {
          StringEquals: {
            'aws:SourceAccount': { Ref: 'AWS::AccountId' },
            'aws:SourceArn': {
              'Fn::Join': [
                '',
                [
                  'arn:',
                  { Ref: 'AWS::Partition' },
                  ':events:',
                  { Ref: 'AWS::Region' },
                  ':',
                  { Ref: 'AWS::AccountId' },
                  ':rule/',
                  { Ref: expect.stringMatching(/^Bus/) },
                  `/${ruleProps.Name}`,
                ],
              ],
            },
          },
        },
      }),
    ]);
  });

  it('tells, at synth, what the owner of an imported SQS target queue must allow', () => {
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('nutcache-cdc:sqsTargetPolicy'),
    );
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.entry.data)).toMatch(
      /regional-onboarding.*events\.amazonaws\.com.*sqs:SendMessage/s,
    );
  });
});

describe('no reserved concurrency unless configured', () => {
  it('reserves none by default, for the poller and sync-now', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const [, fn] of functions) {
      expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    }
  });

  it('reserves what the configuration asks for', () => {
    const { template: t } = synthesise({
      ...FULL_CONFIG,
      pollerReservedConcurrency: 2,
      syncNowReservedConcurrency: 3,
    } as Partial<NutcacheCdcConfigInput>);
    const reserved = Object.values(t.findResources('AWS::Lambda::Function'))
      .map((f) => (f as { Properties: Json }).Properties)
      .map((p) => [
        ((p.Environment as { Variables: Json }).Variables.POWERTOOLS_SERVICE_NAME as string).split('-')[0],
        p.ReservedConcurrentExecutions,
      ]);
    expect(reserved).toEqual(
      expect.arrayContaining([
        ['nutcache', 2],
        ['sync', 3],
        ['webhook', undefined],
      ]),
    );
  });
});

describe('nothing retained keeps a fixed name; account-global names are region-unique', () => {
  it('deletes the schedule group with the stack', () => {
    const groups = ofType('AWS::Scheduler::ScheduleGroup');
    expect(groups).toHaveLength(1);
    for (const [, group] of groups) expect(group.DeletionPolicy ?? 'Delete').toBe('Delete');
  });

  it('puts the region in the dashboard name', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: { 'Fn::Join': ['', ['nutcache-cdc-full-', { Ref: 'AWS::Region' }]] },
    });
  });
});

describe('an imported secret may be encrypted with a customer managed KMS key', () => {
  it('lets the poller decrypt with such a key, through Secrets Manager only', () => {
    const decrypt = statementsOf(poller).filter((s) => actions(s).includes('kms:Decrypt'));
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]?.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
      },
    });
    // The configured key ARN does not grow the policy: organizations are data.
    expect(JSON.stringify(statementsOf(poller))).not.toContain(KMS_KEY_ARN);
  });
});

describe('the archive leaves its KMS key out instead of an empty identifier', () => {
  it('has no KmsKeyIdentifier', () => {
    const archives = ofType('AWS::Events::Archive');
    expect(archives).toHaveLength(1);
    for (const [, archive] of archives) expect(archive.Properties).not.toHaveProperty('KmsKeyIdentifier');
  });
});

describe('the dashboard', () => {
  it('graphs unconfigured polls', () => {
    const body = JSON.stringify(ofType('AWS::CloudWatch::Dashboard')[0]?.[1].Properties.DashboardBody);
    expect(body).toContain('SELECT SUM(PollUnconfigured)');
  });
});

describe('deployment order, least privilege, outputs and feature flags', () => {
  it('grants the poller exactly the DynamoDB actions it calls', () => {
    const dynamo = statementsOf(poller).filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap(actions).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
  });

  it('names the sync-now URL output SyncNowUrl', () => {
    expect(Object.keys(template.findOutputs('SyncNowUrl'))).toEqual(['SyncNowUrl']);
  });

  it('sets every feature flag CDK recommends for the installed aws-cdk-lib in cdk.json', () => {
    const recommended = JSON.parse(
      readFileSync(
        new URL('../../node_modules/aws-cdk-lib/recommended-feature-flags.json', import.meta.url),
        'utf8',
      ),
    ) as Json;
    const context = (
      JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Json }
    ).context;
    expect(context).toMatchObject(recommended);
  });
});
