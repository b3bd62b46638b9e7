/** The sync-rule, webhook and sync-now constructs wired into the main stack. */

import { readFileSync } from 'node:fs';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.ts';
import { compileRulePattern } from '../../shared/rules/compile.ts';
import { parseRulesText } from '../../shared/rules/model.ts';
import { configWith, nagFindings, STAND_IN_POLLER } from './fixtures/synth.ts';

const EXAMPLE = 'examples/sync-rules.yaml';

function build(syncNow: boolean) {
  return buildApp({
    config: configWith({ syncRulesFile: EXAMPLE }),
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
});
