/**
 * The deployed side of CRM targets: from the rules of examples/crm-rules.yaml, the template holds a
 * connection (secrets by dynamic reference only), an API destination with an invocation rate limit, rule
 * targets whose input transformer and path parameters are crmDelivery's, a retry policy, an encrypted
 * dead-letter queue with an alarm, a role limited to invoking its own API destination, and no Lambda function.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CRM_RATE_LIMIT_PER_SECOND } from '../../infra/constructs/crm-target.ts';
import { addSyncRulesFromSpecs, CustomerSyncRule } from '../../infra/constructs/customer-sync-rule.ts';
import type { HubSpotTarget, SalesforceTarget } from '../../shared/crm/model.ts';
import { crmDelivery } from '../../shared/crm/transformer.ts';
import {
  applyInputTransformer,
  fillPathParameters,
  resolvePathParameterValues,
} from '../../shared/rules/input-transformer.ts';
import { parseRulesText, type SyncRuleSpec } from '../../shared/rules/model.ts';
import { exampleRules } from '../rules/example-rules.ts';

const { named: ruleNamed } = exampleRules('crm-rules.yaml');
const hubspot = ruleNamed('companies-to-hubspot');
const salesforce = ruleNamed('accounts-to-salesforce');
const hubspotTarget = hubspot.target as HubSpotTarget;
const salesforceTarget = salesforce.target as SalesforceTarget;

function newStack() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'CrmTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bus = new events.EventBus(stack, 'Bus');
  const topic = new sns.Topic(stack, 'Alarms');
  return { stack, bus, alarmAction: new cloudwatchActions.SnsAction(topic) };
}

function synthFromFile(specs: readonly SyncRuleSpec[]) {
  const { stack, bus, alarmAction } = newStack();
  const scope = new Construct(stack, 'Sync');
  const built = addSyncRulesFromSpecs(scope, {
    rules: specs,
    eventBus: bus,
    environmentName: 'test',
    alarmAction,
  });
  return { template: Template.fromStack(stack), rules: built, stack };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** The rule targets of the template, by the rule's detail-types. */
function targetsOf(
  template: Template,
): { detailTypes: string[]; pattern: Record<string, unknown>; target: Record<string, unknown> }[] {
  const found = template.findResources('AWS::Events::Rule') as Resources;
  return Object.values(found).flatMap((rule) => {
    const pattern = JSON.parse(rule.Properties.EventPattern as string) as Record<string, unknown>;
    const targets = rule.Properties.Targets as Record<string, unknown>[];
    return targets.map((target) => ({ detailTypes: pattern['detail-type'] as string[], pattern, target }));
  });
}

const built = synthFromFile([hubspot, salesforce]);
const json = JSON.stringify(built.template.toJSON());

describe('CRM targets: connections', () => {
  it('HubSpot: an Authorization header "Bearer <token>" with the token read from its secret by dynamic reference', () => {
    built.template.hasResourceProperties('AWS::Events::Connection', {
      AuthorizationType: 'API_KEY',
      AuthParameters: {
        ApiKeyAuthParameters: {
          ApiKeyName: 'Authorization',
          ApiKeyValue: `Bearer {{resolve:secretsmanager:${hubspotTarget.tokenSecretArn}:SecretString:::}}`,
        },
      },
    });
  });

  it('Salesforce: OAuth client credentials against {instanceUrl}/services/oauth2/token, the client secret by reference', () => {
    built.template.hasResourceProperties('AWS::Events::Connection', {
      AuthorizationType: 'OAUTH_CLIENT_CREDENTIALS',
      AuthParameters: {
        OAuthParameters: {
          AuthorizationEndpoint: 'https://example.my.salesforce.com/services/oauth2/token',
          HttpMethod: 'POST',
          ClientParameters: {
            ClientID: salesforceTarget.oauth.clientId,
            ClientSecret: `{{resolve:secretsmanager:${salesforceTarget.oauth.clientSecretArn}:SecretString:::}}`,
          },
          OAuthHttpParameters: {
            BodyParameters: [{ Key: 'grant_type', Value: 'client_credentials', IsValueSecret: false }],
          },
        },
      },
    });
  });

  it('every secret in the template is a dynamic reference, and there is no Lambda function', () => {
    const secrets = json.match(/\{\{resolve:[^}]*\}\}/g) ?? [];
    expect(secrets.length).toBe(2);
    expect(secrets.every((s) => s.startsWith('{{resolve:secretsmanager:arn:aws:secretsmanager:'))).toBe(true);
    built.template.resourceCountIs('AWS::Lambda::Function', 0);
  });
});

describe('CRM targets: API destinations', () => {
  it('one per CRM request, with the documented default invocation rate limit', () => {
    built.template.resourceCountIs('AWS::Events::ApiDestination', 2);
    built.template.hasResourceProperties('AWS::Events::ApiDestination', {
      HttpMethod: 'POST',
      InvocationEndpoint: 'https://api.hubapi.com/crm/v3/objects/companies/batch/upsert',
      InvocationRateLimitPerSecond: DEFAULT_CRM_RATE_LIMIT_PER_SECOND,
    });
    built.template.hasResourceProperties('AWS::Events::ApiDestination', {
      HttpMethod: 'PATCH',
      InvocationEndpoint:
        'https://example.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/*',
      InvocationRateLimitPerSecond: DEFAULT_CRM_RATE_LIMIT_PER_SECOND,
    });
  });

  it('takes another rate limit in code', () => {
    const { stack, bus } = newStack();
    const { target: _target, ...filter } = hubspot;
    new CustomerSyncRule(stack, 'Slow', {
      ...filter,
      eventBus: bus,
      environmentName: 'test',
      target: { kind: 'crm', target: hubspotTarget, rateLimitPerSecond: 5 },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::ApiDestination', {
      InvocationRateLimitPerSecond: 5,
    });
  });

  it('refuses in code what a real account refuses: a rate outside 1–300, a retry age outside 60 s–24 h', () => {
    const { target: _target, ...filter } = hubspot;
    const rule = (id: string, more: { rateLimitPerSecond?: number; maxEventAge?: Duration }) => () => {
      const { stack, bus } = newStack();
      new CustomerSyncRule(stack, id, {
        ...filter,
        eventBus: bus,
        environmentName: 'test',
        target: { kind: 'crm', target: hubspotTarget, rateLimitPerSecond: more.rateLimitPerSecond ?? 5 },
        ...(more.maxEventAge ? { maxEventAge: more.maxEventAge } : {}),
      });
    };
    expect(rule('Fast', { rateLimitPerSecond: 301 })).toThrow(/companies-to-hubspot.*at most 300/);
    expect(rule('Zero', { rateLimitPerSecond: 0 })).toThrow(/companies-to-hubspot.*at least 1/);
    expect(rule('Old', { maxEventAge: Duration.hours(25) })).toThrow(/maxEventAge.*60 seconds and 24 hours/);
    expect(rule('Young', { maxEventAge: Duration.seconds(59) })).toThrow(
      /maxEventAge.*60 seconds and 24 hours/,
    );
    expect(rule('Ok', { rateLimitPerSecond: 300, maxEventAge: Duration.hours(24) })).not.toThrow();
  });

  it("refuses a mapping whose input template exceeds EventBridge's 8,192 characters", () => {
    const { stack, bus } = newStack();
    const { target: _target, ...filter } = hubspot;
    const properties = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`a_rather_long_hubspot_property_name_${i}`, 'name']),
    );
    expect(
      () =>
        new CustomerSyncRule(stack, 'Huge', {
          ...filter,
          eventBus: bus,
          environmentName: 'test',
          target: { kind: 'crm', target: { ...hubspotTarget, properties } },
        }),
    ).toThrow(/companies-to-hubspot.*inputTemplate.*8192/);
  });
});

describe('CRM targets: rate limit in the rules file', () => {
  const withRate = (rate: unknown) =>
    `- name: slow-hubspot\n  target:\n    type: hubspot\n    object: companies\n    idProperty: nutcache_id\n    properties: { name: name }\n    tokenSecretArn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:hubspot\n    rateLimitPerSecond: ${String(rate)}\n`;

  it("a target's rateLimitPerSecond reaches its API destination", () => {
    const [slow] = parseRulesText(withRate(7), 'rules.yaml');
    if (!slow) throw new Error('no rule parsed');
    synthFromFile([slow]).template.hasResourceProperties('AWS::Events::ApiDestination', {
      InvocationRateLimitPerSecond: 7,
    });
  });

  it.each([0, 301, 2.5])(
    'refuses rateLimitPerSecond %s (EventBridge allows whole numbers 1..300)',
    (rate) => {
      expect(() => parseRulesText(withRate(rate), 'rules.yaml')).toThrow(
        /rateLimitPerSecond must be (a whole number|at least 1|at most 300)/,
      );
    },
  );
});

describe('CRM targets: rule targets', () => {
  const all = targetsOf(built.template);
  const upserts = all.filter((t) => t.detailTypes.includes('Customer Updated'));
  const deletions = all.filter((t) => t.detailTypes.includes('Customer Deleted'));

  it('one rule for upserts and one for deletions per CRM (the onDelete request differs)', () => {
    expect(upserts).toHaveLength(2);
    expect(deletions).toHaveLength(2);
    for (const upsert of upserts) {
      expect([...upsert.detailTypes].sort()).toEqual([
        'Customer Created',
        'Customer Snapshot',
        'Customer Updated',
      ]);
    }
    for (const deletion of deletions) expect(deletion.detailTypes).toEqual(['Customer Deleted']);
  });

  it("carries crmDelivery's input transformer, path parameters and headers exactly", () => {
    const expected = [
      crmDelivery(hubspotTarget, 'updated'),
      crmDelivery(salesforceTarget, 'updated'),
      crmDelivery(hubspotTarget, 'deleted'),
      crmDelivery(salesforceTarget, 'deleted'),
    ].map((d) => ({
      InputTemplate: d?.inputTransformer.inputTemplate,
      InputPathsMap:
        Object.keys(d?.inputTransformer.inputPathsMap ?? {}).length > 0
          ? d?.inputTransformer.inputPathsMap
          : undefined,
      PathParameterValues: d?.pathParameterValues,
      HeaderParameters: d?.headers,
    }));
    const actual = all.map(({ target }) => {
      const http = target.HttpParameters as Record<string, unknown> | undefined;
      const transformer = target.InputTransformer as Record<string, unknown>;
      return {
        InputTemplate: transformer.InputTemplate,
        InputPathsMap: transformer.InputPathsMap,
        PathParameterValues: http?.PathParameterValues,
        HeaderParameters: http?.HeaderParameters,
      };
    });
    expect(actual).toEqual(expect.arrayContaining(expected));
    expect(actual).toHaveLength(expected.length);
  });

  it('retries for 24 hours (185 attempts), then dead-letters into an encrypted queue whose alarm notifies the topic', () => {
    for (const { target } of all) {
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 });
      expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } });
    }
    const queues = built.template.findResources('AWS::SQS::Queue') as Resources;
    expect(Object.keys(queues)).toHaveLength(4);
    for (const queue of Object.values(queues))
      expect(queue.Properties.SqsManagedSseEnabled ?? queue.Properties.KmsMasterKeyId).toBeTruthy();
    built.template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      {
        AlarmName: Match.stringLikeRegexp(
          'rule-(companies-to-hubspot|accounts-to-salesforce)(-deleted)?-target-dead-letters$',
        ),
        AlarmActions: [{ Ref: Match.anyValue() }],
      },
      4,
    );
  });

  it("skips truncated events (they carry no customer), with crmRulePattern's pattern, as local delivery does", () => {
    for (const { pattern } of all) expect(pattern.detail).toMatchObject({ truncated: [{ exists: false }] });
  });

  it('sends no deletion rule when onDelete is ignore', () => {
    const ignoring = { ...hubspot, target: { ...hubspotTarget, onDelete: 'ignore' as const } };
    const types = targetsOf(synthFromFile([ignoring]).template).flatMap((t) => t.detailTypes);
    expect(types).not.toContain('Customer Deleted');
  });
});

describe('CRM targets: the role EventBridge assumes', () => {
  it('may only invoke its own API destination, and only for its own rule of this account', () => {
    const roles = built.template.findResources('AWS::IAM::Role') as Resources;
    expect(Object.keys(roles)).toHaveLength(4);
    for (const role of Object.values(roles)) {
      expect(role.Properties.AssumeRolePolicyDocument).toMatchObject({
        Statement: [
          {
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': '123456789012', 'aws:SourceArn': expect.anything() },
            },
          },
        ],
      });
    }
    const ruleNames = Object.values(built.template.findResources('AWS::Events::Rule') as Resources).map(
      (rule) => rule.Properties.Name as string,
    );
    const trusted = Object.values(roles).map((role) =>
      JSON.stringify(role.Properties.AssumeRolePolicyDocument),
    );
    expect(ruleNames.map((name) => trusted.filter((t) => t.includes(`/${name}"`)).length)).toEqual([
      1, 1, 1, 1,
    ]);
    const policies = built.template.findResources('AWS::IAM::Policy') as Resources;
    const statements = Object.values(policies).flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement,
    );
    expect(statements).toHaveLength(4);
    for (const statement of statements) {
      expect(statement).toEqual({
        Action: 'events:InvokeApiDestination',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/Destination/), 'Arn'] },
      });
    }
  });
});

describe('CRM targets: the deployed transformer, evaluated locally, sends the CRM request', () => {
  const event = {
    version: '0',
    id: 'e1',
    'detail-type': 'Customer Updated',
    source: 'nutcache.customers',
    time: '2026-11-29T22:00:00Z',
    detail: {
      customerId: 160030,
      after: { name: 'Tyrell "T" Group', phone: null, city: 'Québec', zip_code: 'G1R 4P5', status: 0 },
    },
  };

  it('HubSpot: the batch upsert of customer 160030 with its mapped properties (values as JSON)', () => {
    const target = upsertTarget(built.template, 'POST');
    const plain = {
      ...event,
      detail: { ...event.detail, after: { ...event.detail.after, name: 'Tyrell Group', phone: '555 0100' } },
    };
    expect(JSON.parse(applyInputTransformer(target.transformer, plain))).toEqual({
      inputs: [
        {
          idProperty: 'nutcache_id',
          id: '160030',
          properties: {
            name: 'Tyrell Group',
            phone: '555 0100',
            city: 'Québec',
            zip: 'G1R 4P5',
            nutcache_status: 0,
          },
        },
      ],
    });
    expect(target.pathParameterValues).toEqual([]);
  });

  it('Salesforce: PATCH …/Nutcache_Id__c/160030 with the mapped fields (strings escaped, null clears)', () => {
    const target = upsertTarget(built.template, 'PATCH');
    const body = applyInputTransformer(target.transformer, event);
    expect(JSON.parse(body)).toEqual({
      Name: 'Tyrell "T" Group',
      Phone: null,
      BillingCity: 'Québec',
      BillingPostalCode: 'G1R 4P5',
      Nutcache_Status__c: 0,
    });
    const endpoint =
      'https://example.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/*';
    expect(fillPathParameters(endpoint, resolvePathParameterValues(target.pathParameterValues, event))).toBe(
      'https://example.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/160030',
    );
  });
});

/** The upsert target of the CRM whose API destination uses `method`, as EventBridge holds it. */
function upsertTarget(template: Template, method: string) {
  const destinations = template.findResources('AWS::Events::ApiDestination', {
    Properties: { HttpMethod: method },
  });
  const [destinationId] = Object.keys(destinations);
  const found = targetsOf(template).find(
    ({ target, detailTypes }) =>
      detailTypes.includes('Customer Updated') && JSON.stringify(target.Arn).includes(`"${destinationId}"`),
  );
  if (!found) throw new Error(`no upsert target on a ${method} API destination`);
  const transformer = found.target.InputTransformer as {
    InputPathsMap?: Record<string, string>;
    InputTemplate: string;
  };
  const http = found.target.HttpParameters as { PathParameterValues?: string[] } | undefined;
  return {
    transformer: { inputPathsMap: transformer.InputPathsMap, inputTemplate: transformer.InputTemplate },
    pathParameterValues: http?.PathParameterValues ?? [],
  };
}

describe('CRM targets: refused at synth', () => {
  it('a HubSpot target without tokenSecretArn, a Salesforce one without clientSecretArn, and an http URL', () => {
    const { tokenSecretArn: _t, ...noToken } = hubspotTarget;
    expect(() => synthFromFile([{ ...hubspot, target: noToken }])).toThrow(/needs tokenSecretArn/);
    const { clientSecretArn: _c, ...noSecret } = salesforceTarget.oauth;
    expect(() =>
      synthFromFile([{ ...salesforce, target: { ...salesforceTarget, oauth: noSecret } }]),
    ).toThrow(/needs oauth.clientSecretArn/);
    expect(() =>
      synthFromFile([{ ...hubspot, target: { ...hubspotTarget, baseUrl: 'http://127.0.0.1:9999' } }]),
    ).toThrow(/needs an https:\/\/ URL/);
  });

  it('a CRM rule whose change types send nothing (only deletions, ignored)', () => {
    const spec = {
      ...hubspot,
      changeTypes: ['deleted' as const],
      target: { ...hubspotTarget, onDelete: 'ignore' as const },
    };
    expect(() => synthFromFile([spec])).toThrow(/sends no request/);
  });
});
