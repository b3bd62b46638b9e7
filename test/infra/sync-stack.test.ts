/** The sync-rule, webhook and sync-now constructs wired into the main stack. */

import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnTopic } from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.ts';
import { compileRulePattern } from '../../shared/rules/compile.ts';
import { parseRulesText } from '../../shared/rules/model.ts';
import { configWith, nagFindings, STAND_IN_POLLER } from './fixtures/synth.ts';

const EXAMPLE = 'examples/sync-rules.yaml';

function build(syncNow: boolean, environmentName = 'test') {
  return buildApp({
    config: configWith({ syncRulesFile: EXAMPLE, environmentName }),
    pollerEntry: STAND_IN_POLLER,
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], ...(syncNow ? { 'nutcache-cdc:syncNow': true } : {}) },
  });
}

describe('main stack with sync rules and sync now', () => {
  it('creates the rules of syncRulesFile on the bus, with the configured event source', () => {
    const built = build(true);
    const template = Template.fromStack(built.stack);
    const rules = parseRulesText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
    const patterns = Object.values(template.findResources('AWS::Events::Rule'))
      .map((r) => (r as { Properties: { EventPattern?: unknown } }).Properties.EventPattern)
      .filter((p): p is string => typeof p === 'string')
      .map((p) => JSON.parse(p));
    for (const rule of rules) {
      expect(patterns).toContainEqual(compileRulePattern(rule, { eventSource: built.config.eventSource }));
    }
    expect(built.stack.syncRules).toHaveLength(rules.length);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    expect(nagFindings(built)).toEqual([]);
  });

  it('deploys the sync-now endpoint when the configuration file asks for it', () => {
    const built = buildApp({
      config: configWith({ syncNow: true }),
      pollerEntry: STAND_IN_POLLER,
      builtinCloudFormationValidation: false,
      context: { 'aws:cdk:bundling-stacks': [] },
    });
    Template.fromStack(built.stack).resourceCountIs('AWS::Lambda::Url', 1);
  });

  it('leaves the public sync-now endpoint out unless asked for', () => {
    const template = Template.fromStack(build(false).stack);
    template.resourceCountIs('AWS::Lambda::Url', 0);
  });

  it('keeps two environments with the same rules file apart: no shared alarm name, service name per environment', () => {
    const [dev, prod] = ['dev', 'prod'].map((env) => Template.fromStack(build(true, env).stack));
    const alarmNames = (template: Template) =>
      Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
        (a) => (a as { Properties: { AlarmName: string } }).Properties.AlarmName,
      );
    const devNames = alarmNames(dev as Template);
    const prodNames = alarmNames(prod as Template);
    expect(devNames).toContain('nutcache-cdc-dev-webhook-customer-deactivated-disabled');
    expect(prodNames).toContain('nutcache-cdc-prod-webhook-customer-deactivated-disabled');
    expect(devNames.filter((name) => prodNames.includes(name))).toEqual([]);
    const serviceNames = (template: Template) =>
      Object.values(template.findResources('AWS::Lambda::Function'))
        .map(
          (f) =>
            (f as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties
              .Environment?.Variables?.POWERTOOLS_SERVICE_NAME,
        )
        .filter((name) => name !== undefined);
    expect(serviceNames(dev as Template)).toEqual(
      expect.arrayContaining(['webhook-delivery-dev', 'sync-now-dev']),
    );
    expect(serviceNames(prod as Template)).toEqual(
      expect.arrayContaining(['webhook-delivery-prod', 'sync-now-prod']),
    );
    (prod as Template).hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'nutcache-cdc-prod-webhook-customer-deactivated-disabled',
      Dimensions: [
        { Name: 'Subscription', Value: 'customer-deactivated' },
        { Name: 'service', Value: 'webhook-delivery-prod' },
      ],
    });
  });

  it("sends a rule's target dead-letter alarm to the alarm e-mail topic when one is configured", () => {
    const built = buildApp({
      config: configWith({ syncRulesFile: EXAMPLE, alarmEmail: 'ops@example.com' }),
      pollerEntry: STAND_IN_POLLER,
      builtinCloudFormationValidation: false,
      context: { 'aws:cdk:bundling-stacks': [] },
    });
    const template = Template.fromStack(built.stack);
    const topic = built.stack.getLogicalId(built.stack.alarmTopic?.node.defaultChild as CfnTopic);
    for (const rule of parseRulesText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `nutcache-cdc-test-rule-${rule.name}-target-dead-letters`,
        AlarmActions: [{ Ref: topic }],
      });
    }
  });
});
