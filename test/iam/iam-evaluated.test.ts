/**
 * IAM-evaluated integration test: the stack as an AWS account would enforce it. The app is synthesized with
 * bundling from a full configuration (three organizations, one with an imported secret; sync rules with
 * every target type; signed webhooks; "sync now"; an alarm e-mail). Each bundled function runs from cdk.out
 * in a child process against a recording loopback stand-in of every AWS service it calls, through realistic
 * flows (scripted in scenario.ts). Every recorded call, every call Lambda, Scheduler, EventBridge and
 * CloudWatch make for the stack, is then evaluated with a real IAM policy evaluator against the template's
 * policies: none may be denied. The stand-in also enforces those policies while the flows run, so a denial
 * shows as the user would see it. Negative tests prove the evaluation can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAIL_TYPES } from '../../shared/events/contract.ts';
import type { PolicyStatement } from '../support/cfn-template.ts';
import { describe as describeCall, type Evaluation, evaluate } from '../support/iam-evaluator.ts';
import {
  alarmChecks,
  type Check,
  functionUrlChecks,
  platformChecks,
  recordedChecks,
  ruleTargetChecks,
  schedulerChecks,
} from './permissions.ts';
import { functionOf, ORG_A, ORG_B, runScenario, type Scenario } from './scenario.ts';

interface Evaluated extends Check {
  readonly evaluation: Evaluation;
}

async function evaluateAll(checks: readonly Check[]): Promise<Evaluated[]> {
  return Promise.all(
    checks.map(async (check) => ({ ...check, evaluation: await evaluate(check.request, check.policies) })),
  );
}

function denials(evaluated: readonly Evaluated[]): string[] {
  return evaluated
    .filter((e) => e.evaluation.decision !== 'Allowed')
    .map((e) => `${e.subject} (${e.origin}): ${describeCall(e.request, e.evaluation)}`);
}

/** `subject | kind | action | decision | count` rows, for the report. */
function table(evaluated: readonly Evaluated[]): string {
  const counts = new Map<string, number>();
  for (const e of evaluated) {
    const kind = e.origin === 'recorded' ? 'call' : e.origin.startsWith('platform') ? 'platform' : 'service';
    const key = `${e.subject} | ${kind} | ${e.request.action} | ${e.evaluation.decision}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `  ${key} | ${n}`).join('\n');
}

/** Per function: actions its role grants that no evaluated call used (a least-privilege review aid). */
function unusedGrants(scenario: Scenario, evaluated: readonly Evaluated[]): string {
  return scenario.functions
    .map((fn) => {
      const used = new Set(evaluated.filter((e) => e.subject === fn.logicalId).map((e) => e.request.action));
      const granted = scenario.stack
        .identityPolicies(fn.roleId)
        .flatMap((p) =>
          p.policy.Statement.filter((st) => st.Effect === 'Allow').flatMap((st) => [st.Action ?? []].flat()),
        );
      return `  ${fn.logicalId}: ${[...new Set(granted)].filter((a) => !used.has(a)).join(', ') || 'none'}`;
    })
    .join('\n');
}

describe('the deployed stack under IAM', () => {
  let scenario: Scenario;
  let functionCalls: Evaluated[];
  let serviceCalls: Evaluated[];
  let unmodelled: string[];

  beforeAll(async () => {
    scenario = await runScenario();
    const { stack, functions, recorder } = scenario;
    functionCalls = await evaluateAll([
      ...recordedChecks(stack, functions, recorder.calls),
      ...functions.flatMap((fn) => platformChecks(stack, fn)),
    ]);
    const targets = ruleTargetChecks(stack);
    unmodelled = targets.unmodelled;
    serviceCalls = await evaluateAll([
      ...schedulerChecks(stack),
      ...targets.checks,
      ...alarmChecks(stack),
      ...functionUrlChecks(stack),
    ]);
    console.log(
      `[iam] calls evaluated (subject | kind | action | decision | count):\n${table([...functionCalls, ...serviceCalls])}\n` +
        `[iam] not modelled: ${unmodelled.join('; ') || 'none'}\n` +
        `[iam] granted but not used by these flows:\n${unusedGrants(scenario, functionCalls)}`,
    );
  }, 180_000);

  afterAll(async () => {
    await scenario?.close();
  });

  it('runs every flow to its expected outcome', () => {
    const outcome = (flow: string) => scenario.runs.find((r) => r.flow === flow)?.run;
    for (const { flow, run } of scenario.runs)
      expect(run.error, `${flow}\n${run.output.slice(-2000)}`).toBeUndefined();
    // Poll-queue messages: no batch item failure, and the events of each poll on the bus.
    for (const flow of ['scheduled poll (first: snapshots)', 'scheduled poll (created, updated, deleted)']) {
      expect(outcome(flow)?.result).toEqual({ batchItemFailures: [] });
    }
    const published = (guid: string) =>
      scenario.recorder.events
        .filter((e) => String(e.Detail).includes(guid))
        .map((e) => e.DetailType)
        .sort();
    expect(published(ORG_A)).toEqual(
      [
        ...Array(8).fill('Customer Snapshot'),
        'Customer Created',
        'Customer Deleted',
        'Customer Updated',
      ].sort(),
    );
    expect(outcome('direct poll (imported secret, one event dead-lettered)')?.result).toMatchObject({
      counts: { snapshot: 2 },
    });
    expect(scenario.recorder.messages).toEqual([
      {
        queueArn: expect.stringMatching(/EventDeadLetterQueue/),
        body: expect.stringContaining('Unpublishable'),
      },
      { queueArn: expect.stringMatching(/PollQueue/), body: expect.stringContaining(ORG_B) },
    ]);
    expect(outcome('sync now (signed request)')?.result).toMatchObject({ statusCode: 202 });
    expect(outcome('resync (queued by sync now)')?.result).toEqual({ batchItemFailures: [] });
    expect(published(ORG_B).length).toBeGreaterThan(0);
    expect(outcome('webhook delivery (success)')?.result).toEqual({ batchItemFailures: [] });
    expect(outcome('webhook delivery (503: retry later)')?.result).toEqual({
      batchItemFailures: [{ itemIdentifier: 'msg-1' }],
    });
    expect(outcome('webhook delivery (410: subscription disabled)')?.result).toEqual({
      batchItemFailures: [{ itemIdentifier: 'msg-2' }],
    });
    expect(scenario.receiver.received.map((r) => r.verified)).toEqual([true, true, true]);
  });

  it('answered every AWS call the functions made (no unknown service or operation)', () => {
    expect(scenario.recorder.unsupported).toEqual([]);
    const published = scenario.recorder.events.map((e) => e.DetailType);
    expect(published).toEqual(
      expect.arrayContaining([
        DETAIL_TYPES.snapshot,
        DETAIL_TYPES.created,
        DETAIL_TYPES.updated,
        DETAIL_TYPES.deleted,
      ]),
    );
  });

  it('records the calls each flow needs, with their resources and condition keys', () => {
    const actions = (fn: string) =>
      new Set(
        scenario.recorder.calls
          .filter((c) => c.caller === functionOf(scenario, fn as 'poller').accessKeyId)
          .map((c) => c.action),
      );
    expect([...actions('poller')]).toEqual(
      expect.arrayContaining([
        'secretsmanager:GetSecretValue',
        'dynamodb:Query',
        'events:PutEvents',
        'kms:Decrypt',
        'sqs:SendMessage',
      ]),
    );
    // Sync-now: its signing secret, the registry lookup, the replay claim, the poll message.
    expect([...actions('sync-now')]).toEqual(
      expect.arrayContaining([
        'secretsmanager:GetSecretValue',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'sqs:SendMessage',
      ]),
    );
    expect([...actions('sync-now')]).not.toContain('lambda:InvokeFunction');
    const lookup = scenario.recorder.calls.find(
      (c) => c.action === 'dynamodb:GetItem' && c.caller === functionOf(scenario, 'sync-now').accessKeyId,
    );
    expect(lookup?.context['dynamodb:LeadingKeys']).toEqual(['REGISTRY#ORGANIZATIONS']);
    // The poller reads each organization from the registry, and an imported secret by its ABAC tag.
    const registryReads = scenario.recorder.calls.filter(
      (c) =>
        c.action === 'dynamodb:GetItem' &&
        c.caller === functionOf(scenario, 'poller').accessKeyId &&
        JSON.stringify(c.context['dynamodb:LeadingKeys']) === '["REGISTRY#ORGANIZATIONS"]',
    );
    expect(registryReads.length).toBeGreaterThanOrEqual(4);
    const taggedRead = scenario.recorder.calls.find(
      (c) => c.action === 'secretsmanager:GetSecretValue' && c.resource.includes('nutcache/org-c'),
    );
    expect(taggedRead?.context['aws:ResourceTag/nutcache-cdc:environment']).toBe('iam');
    expect([...actions('delivery')]).toEqual(
      expect.arrayContaining([
        'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility',
        'lambda:ListEventSourceMappings',
        'lambda:UpdateEventSourceMapping',
      ]),
    );
    const putEvents = scenario.recorder.calls.find((c) => c.action === 'events:PutEvents');
    expect(putEvents?.context['events:source']).toEqual(expect.arrayContaining(['nutcache.customers']));
    const claim = scenario.recorder.calls.find(
      (c) => c.action === 'dynamodb:PutItem' && c.caller === functionOf(scenario, 'sync-now').accessKeyId,
    );
    expect(claim?.context['dynamodb:LeadingKeys']).toEqual([expect.stringMatching(/^WEBHOOK#sync-/)]);
  });

  it.each(['poller', 'sync-now', 'delivery'] as const)(
    'denies none of the calls of the %s function',
    (role) => {
      const fn = functionOf(scenario, role);
      const own = functionCalls.filter((e) => e.subject === fn.logicalId);
      expect(own.length).toBeGreaterThan(0);
      expect(denials(own)).toEqual([]);
    },
  );

  it('leaves no function of the template unevaluated, and denies none of the calls of any other', () => {
    const evaluatedSubjects = new Set(functionCalls.map((e) => e.subject));
    expect(scenario.functions.map((f) => f.logicalId).filter((id) => !evaluatedSubjects.has(id))).toEqual([]);
    const named = new Set(
      (['poller', 'sync-now', 'delivery'] as const).map((role) => functionOf(scenario, role).logicalId),
    );
    expect(denials(functionCalls.filter((e) => !named.has(e.subject)))).toEqual([]);
  });

  it("runs the registrar on CloudFormation's create, update and delete, every call allowed by its role", () => {
    expect(scenario.cloudformation.responses.map((r) => [r.Status, r.Reason])).toEqual([
      ['SUCCESS', 'registered'],
      ['SUCCESS', 'registered'],
      ['SUCCESS', 'registered'],
    ]);
    // The configured organizations' schedules, each passing the scheduler role to Scheduler.
    const scheduled = [...scenario.recorder.schedules.values()].map((sc) => sc.Name).sort();
    expect(scheduled).toEqual(expect.arrayContaining([`org-${ORG_A}`, `org-${ORG_B}`]));
    const registrar = functionOf(scenario, 'registrar').logicalId;
    const own = functionCalls.filter((e) => e.subject === registrar && e.origin === 'recorded');
    expect(new Set(own.map((e) => e.request.action))).toEqual(
      new Set([
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:Query',
        'scheduler:CreateSchedule',
        'scheduler:UpdateSchedule',
        'iam:PassRole',
      ]),
    );
    const [[, resource] = []] = scenario.stack.ofType('Custom::NutcacheCdcOrganizations');
    const schedulerRoleArn = scenario.stack.resolveString(
      (resource?.Properties?.Deployment as { schedulerRoleArn?: unknown } | undefined)?.schedulerRoleArn,
    );
    const passRoles = own.filter((e) => e.request.action === 'iam:PassRole');
    expect(passRoles.length).toBeGreaterThanOrEqual(2);
    for (const passRole of passRoles) {
      expect(passRole.request.resource).toBe(schedulerRoleArn);
      expect(passRole.request.context).toEqual({ 'iam:PassedToService': 'scheduler.amazonaws.com' });
    }
    expect(denials(own)).toEqual([]);
  });

  it.each([
    [
      'EventBridge Scheduler assume its role, send to the poll queue and reach its dead-letter queue',
      'scheduler',
      ['sts:AssumeRole', 'sqs:SendMessage'],
    ],
    [
      'EventBridge reach every sync-rule target (resource policy or assumed role) and dead-letter queue',
      'eventbridge',
      [
        'sqs:SendMessage',
        'lambda:InvokeFunction',
        'sts:AssumeRole',
        'states:StartExecution',
        'events:InvokeApiDestination',
      ],
    ],
    [
      'the alarms publish to the alarm topic (topic policy and KMS key policy)',
      'cloudwatch',
      ['sns:Publish', 'kms:GenerateDataKey', 'kms:Decrypt'],
    ],
  ] as const)('lets %s', (_, subject, actions) => {
    const own = serviceCalls.filter((e) => e.subject === subject);
    expect(new Set(own.map((e) => e.request.action))).toEqual(new Set(actions));
    expect(denials(own)).toEqual([]);
  });

  /**
   * CRM targets (HubSpot, Salesforce): EventBridge assumes each rule's role to invoke its API destination.
   * Not visible to the evaluator: the connection's secret (events!connection/…), which EventBridge creates,
   * reads and refreshes through its own service-linked role AWSServiceRoleForAmazonEventBridgeApiDestinations
   * (a managed policy outside the template), nor the CRM's own authorization of the token.
   */
  it("lets each CRM rule's role invoke its own API destination, and no other", async () => {
    const stack = scenario.stack;
    const destinations = stack.ofType('AWS::Events::ApiDestination').map(([id]) => stack.getAtt(id, 'Arn'));
    const crm = serviceCalls.filter(
      (e) => e.request.action === 'events:InvokeApiDestination' && destinations.includes(e.request.resource),
    );
    // to-hubspot (upserts and deletions) and to-salesforce: three rules, two API destinations.
    expect(crm).toHaveLength(3);
    expect(new Set(crm.map((e) => e.request.resource)).size).toBe(2);
    expect(denials(crm)).toEqual([]);
    const elsewhere = crm.map((e) => ({
      ...e,
      request: { ...e.request, resource: destinations.find((d) => d !== e.request.resource) ?? '' },
    }));
    const allowedElsewhere = (await evaluateAll(elsewhere)).filter(
      (e) => e.evaluation.decision === 'Allowed',
    );
    expect(allowedElsewhere.map((e) => `${e.origin} → ${e.request.resource}`)).toEqual([]);
  });

  it('models every rule target but an imported SQS queue, whose own policy lies outside the template', () => {
    expect(unmodelled).toEqual([
      expect.stringContaining('arn:aws:sqs:us-east-1:123456789012:regional-onboarding'),
    ]);
  });

  describe("refuses a service acting for a resource that is not the stack's own (confused deputy)", () => {
    const actingFor = (check: Evaluated, sourceArn: string, sourceAccount: string): Check => {
      const caller = check.request.caller;
      if (caller.kind !== 'service') throw new Error('not a service call');
      return { ...check, request: { ...check.request, caller: { ...caller, sourceArn, sourceAccount } } };
    };
    const serviceOnly = () => serviceCalls.filter((e) => e.request.caller.kind === 'service');
    const allowed = async (checks: readonly Check[]) =>
      (await evaluateAll(checks))
        .filter((e) => e.evaluation.decision === 'Allowed')
        .map((e) => `${e.subject} (${e.origin}): ${e.request.action}`);

    it('from another account', async () => {
      const checks = serviceOnly().map((e) => {
        const arn = e.request.caller.kind === 'service' ? (e.request.caller.sourceArn ?? '') : '';
        return actingFor(e, arn.replace(':123456789012:', ':999999999999:'), '999999999999');
      });
      expect(checks.length).toBeGreaterThan(0);
      expect(await allowed(checks)).toEqual([]);
    });

    it('for another resource of the same account (every trust and resource policy names its source)', async () => {
      const checks = serviceOnly()
        // The alarm topic's key is scoped to the account: it only lets CloudWatch use it for our topic.
        .filter((e) => !e.request.action.startsWith('kms:'))
        .map((e) =>
          actingFor(e, `arn:aws:events:us-east-1:123456789012:rule/someone-elses-rule`, '123456789012'),
        );
      expect(checks.length).toBeGreaterThan(0);
      expect(await allowed(checks)).toEqual([]);
    });
  });

  it('lets an unauthenticated caller reach the sync-now function URL (the signature is its authentication)', () => {
    const publicCalls = serviceCalls.filter((e) => e.subject === 'public');
    expect(publicCalls).toHaveLength(2);
    expect(denials(publicCalls)).toEqual([]);
  });

  describe('negative: the evaluation catches broken policies', () => {
    const pollerPutEvents = () => {
      const fn = functionOf(scenario, 'poller');
      const check = functionCalls.find(
        (e) => e.subject === fn.logicalId && e.request.action === 'events:PutEvents',
      );
      if (!check) throw new Error('the poller published nothing');
      return check;
    };
    const withStatements = (
      check: Check,
      edit: (s: PolicyStatement) => PolicyStatement | undefined,
    ): Check => ({
      ...check,
      policies: {
        ...check.policies,
        identity: (check.policies.identity ?? []).map((p) => ({
          name: p.name,
          policy: {
            ...p.policy,
            Statement: p.policy.Statement.map(edit).filter((s): s is PolicyStatement => s !== undefined),
          },
        })),
      },
    });
    const grantsPutEvents = (s: PolicyStatement) => [s.Action].flat().includes('events:PutEvents');
    const renameOperator = (from: string, to: string) => (s: PolicyStatement) => {
      if (!grantsPutEvents(s) || !s.Condition?.[from]) return s;
      const { [from]: moved, ...rest } = s.Condition;
      return { ...s, Condition: { ...rest, [to]: moved ?? {} } };
    };
    const decision = async (check: Check) => (await evaluate(check.request, check.policies)).decision;

    it('denies a recorded call once the statement granting it is removed', async () => {
      const fn = functionOf(scenario, 'sync-now');
      const claim = functionCalls.find(
        (e) => e.subject === fn.logicalId && e.request.action === 'dynamodb:PutItem',
      );
      if (!claim) throw new Error('sync now claimed no webhook id');
      const without = withStatements(claim, (s) =>
        [s.Action].flat().includes('dynamodb:PutItem') ? undefined : s,
      );
      expect((await evaluate(claim.request, claim.policies)).decision).toBe('Allowed');
      expect((await evaluate(without.request, without.policies)).decision).toBe('ImplicitlyDenied');
    });

    it("denies PutEvents once the template's ForAllValues:StringEquals on events:source becomes a plain StringEquals", async () => {
      const check = pollerPutEvents();
      expect(check.request.context?.['events:source']).toEqual(expect.any(Array));
      const statement = (check.policies.identity ?? [])
        .flatMap((p) => p.policy.Statement)
        .find(grantsPutEvents);
      expect(statement?.Condition?.['ForAllValues:StringEquals']).toHaveProperty('events:source');
      expect(await decision(check)).toBe('Allowed');
      const plain = withStatements(check, renameOperator('ForAllValues:StringEquals', 'StringEquals'));
      expect(await decision(plain)).toBe('ImplicitlyDenied');
    });

    it('denies PutEvents with a foreign source among the entries, or with no source at all', async () => {
      const check = pollerPutEvents();
      const foreign = { 'events:source': ['nutcache.customers', 'aws.fake'] };
      expect(
        await decision({
          ...check,
          request: { ...check.request, context: { ...check.request.context, ...foreign } },
        }),
      ).toBe('ImplicitlyDenied');
      const { 'events:source': _, ...withoutSource } = check.request.context ?? {};
      expect(await decision({ ...check, request: { ...check.request, context: withoutSource } })).toBe(
        'ImplicitlyDenied',
      );
    });

    it('makes a poll publish nothing, and not report success, once its role loses the PutEvents statement', async () => {
      const poller = functionOf(scenario, 'poller');
      scenario.enforcement.edit = (check) =>
        check.request.action === 'events:PutEvents'
          ? withStatements(check, (s) => (grantsPutEvents(s) ? undefined : s))
          : check;
      try {
        const published = scenario.recorder.events.length;
        scenario.sandbox.create({ name: 'Never Published Ltd' });
        const run = await scenario.run(poller, { organizationGuid: ORG_A });
        expect(scenario.recorder.events.length).toBe(published);
        expect(run.ok ? (run.result as { outcome?: string }).outcome : run.error).not.toBe('success');
      } finally {
        scenario.enforcement.edit = undefined;
      }
    });

    it("denies EventBridge's invoke of a Lambda rule target without the function's permission", async () => {
      const invoke = serviceCalls.find(
        (e) => e.subject === 'eventbridge' && e.request.action === 'lambda:InvokeFunction',
      );
      if (!invoke) throw new Error('no Lambda rule target');
      expect(await decision(invoke)).toBe('Allowed');
      expect(await decision({ ...invoke, policies: {} })).toBe('ImplicitlyDenied');
    });
  });
});
