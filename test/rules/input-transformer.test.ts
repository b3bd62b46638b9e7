/**
 * The local input transformer against EventBridge's documentation. Each case cites the page its example or
 * rule comes from; a case the documentation does not settle says "docs silent" in its name, with the choice
 * made (refuse, or the most conservative reading).
 */
import { describe, expect, it } from 'vitest';
import {
  applyInputTransformer,
  compileInputTransformer,
  evaluateJsonPath,
  fillPathParameters,
  InputTransformerError,
  inputTransformerSchema,
  MAX_INPUT_PATHS,
  MAX_INPUT_TEMPLATE_LENGTH,
  resolvePathParameterValues,
} from '../../shared/rules/input-transformer.ts';

const GUIDE = 'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html';
const TUTORIAL =
  'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-input-transformer-tutorial.html';
const API = 'https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html';
const TARGETS =
  'https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html#targets-dynamic-parms';
const HTTP_PARAMETERS = 'https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_HttpParameters.html';

/** The example Amazon EC2 event of the input transformation page. */
const EC2_EVENT = {
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '123456789012',
  time: '2015-11-11T21:29:54Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
  detail: { 'instance-id': 'i-0123456789', state: 'RUNNING' },
};

/** The page's Input Path. */
const PATHS = {
  timestamp: '$.time',
  instance: '$.detail.instance-id',
  state: '$.detail.state',
  resource: '$.resources[0]',
};

const EXAMPLE_RULE = { ruleName: 'example', ruleArn: 'arn:aws:events:us-east-2:123456789012:rule/example' };

function transform(
  inputTemplate: string,
  event: unknown = EC2_EVENT,
  inputPathsMap: Record<string, string> = PATHS,
): string {
  return applyInputTransformer({ inputPathsMap, inputTemplate }, event, EXAMPLE_RULE);
}

function refusal(inputTemplate: string, inputPathsMap: Record<string, string> = PATHS): string {
  const result = inputTransformerSchema.safeParse({ inputPathsMap, inputTemplate });
  expect(result.success).toBe(false);
  return result.success ? '' : result.error.issues.map((issue) => issue.message).join('\n');
}

describe(`input transformer: the examples of ${GUIDE}`, () => {
  it('Simple string: "instance <instance> is in <state>"', () => {
    expect(transform('"instance <instance> is in <state>"')).toBe('"instance i-0123456789 is in RUNNING"');
  });

  it('String with escaped quotes: the escapes of the template are kept as written', () => {
    expect(transform('"instance \\"<instance>\\" is in <state>"')).toBe(
      '"instance \\"i-0123456789\\" is in RUNNING"',
    );
  });

  it('Simple JSON: variables outside quotes become JSON strings', () => {
    const output = transform('{\n  "instance" : <instance>,\n  "state": <state>\n}');
    expect(output).toBe('{\n  "instance" : "i-0123456789",\n  "state": "RUNNING"\n}');
  });

  it('JSON with strings and variables: inside quotes the value is inserted as is', () => {
    const output = transform(
      '{\n "instance" : <instance>,\n "state": "<state>",\n "instanceStatus": "instance \\"<instance>\\" is in <state>"\n}',
    );
    expect(JSON.parse(output)).toEqual({
      instance: 'i-0123456789',
      state: 'RUNNING',
      instanceStatus: 'instance "i-0123456789" is in RUNNING',
    });
  });

  it('JSON with a mix of variables and static information (a variable inside an array)', () => {
    const output = transform(
      '{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "Transformed" : "Yes"\n}',
    );
    expect(JSON.parse(output)).toEqual({
      instance: 'i-0123456789',
      state: [9, 'RUNNING', true],
      Transformed: 'Yes',
    });
  });

  it('Including reserved variables in JSON: rule ARN, rule name and the original event', () => {
    const output = transform(
      '{ "instance": <instance>, "state": <state>, "ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>, "originalEvent": <aws.events.event.json> }',
    );
    expect(JSON.parse(output)).toEqual({
      instance: 'i-0123456789',
      state: 'RUNNING',
      ruleArn: 'arn:aws:events:us-east-2:123456789012:rule/example',
      ruleName: 'example',
      originalEvent: EC2_EVENT,
    });
  });

  it('Including reserved variables in a string: "<aws.events.rule-name> triggered"', () => {
    expect(transform('"<aws.events.rule-name> triggered"')).toBe('"example triggered"');
  });

  it('Input Path: brackets and indices get items from arrays ($.resources[0]) and $.time a timestamp', () => {
    expect(transform('"<resource> at <timestamp>"')).toBe(
      '"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111 at 2015-11-11T21:29:54Z"',
    );
  });
});

describe(`input transformer: predefined variables (${GUIDE}#eb-transform-input-predefined)`, () => {
  it('aws.events.event is the original event without its detail field', () => {
    const output = JSON.parse(transform('{ "event": <aws.events.event> }')) as {
      event: Record<string, unknown>;
    };
    const { detail: _detail, ...withoutDetail } = EC2_EVENT;
    expect(output.event).toEqual(withoutDetail);
    expect(output.event).not.toHaveProperty('detail');
  });

  it('aws.events.event.ingestion-time is an ISO 8601 timestamp (given by EventBridge; locally the event time by default)', () => {
    const given = applyInputTransformer(
      { inputTemplate: '{ "at": <aws.events.event.ingestion-time> }' },
      EC2_EVENT,
      { ingestionTime: '2015-11-11T21:29:55.120Z' },
    );
    expect(JSON.parse(given)).toEqual({ at: '2015-11-11T21:29:55.120Z' });
    const byDefault = applyInputTransformer(
      { inputTemplate: '"<aws.events.event.ingestion-time>"' },
      EC2_EVENT,
    );
    expect(byDefault).toBe('"2015-11-11T21:29:54Z"');
  });

  it('the predefined names are reserved: a variable cannot be created with them', () => {
    expect(refusal('"<aws.events.rule-name>"', { 'aws.events.rule-name': '$.source' })).toMatch(/aws\./);
  });

  it('aws.events.event.json can only be the value of a JSON field, not inline in a string', () => {
    expect(refusal('{ "text": "event <aws.events.event.json>" }')).toMatch(
      /only be the value of a JSON field/,
    );
    expect(refusal('"event <aws.events.event>"')).toMatch(/only be the value of a JSON field/);
  });
});

describe(`input transformer: common issues (${GUIDE}#eb-transform-input-issues)`, () => {
  it('a variable whose JSON path the event does not have is not created and does not appear in the output', () => {
    const paths = { ...PATHS, zone: '$.detail.availability-zone' };
    expect(transform('"instance <instance> in zone <zone>."', EC2_EVENT, paths)).toBe(
      '"instance i-0123456789 in zone ."',
    );
  });

  it('docs silent: a missing value outside quotes leaves a JSON template that is not JSON; refused as undeliverable', () => {
    const paths = { ...PATHS, zone: '$.detail.availability-zone' };
    expect(() => transform('{ "zone": <zone> }', EC2_EVENT, paths)).toThrow(
      /not JSON \(no value for <zone>\)/,
    );
  });

  it('EventBridge does not escape extracted values: a quote inside a quoted placeholder breaks the JSON', () => {
    const event = { ...EC2_EVENT, detail: { ...EC2_EVENT.detail, state: 'say "hi"' } };
    expect(transform('"state <state>"', event)).toBe('"state say "hi""');
    expect(() => transform('{ "state": "<state>" }', event)).toThrow(InputTransformerError);
  });

  it('docs silent: outside quotes a string is its JSON text, so quotes and backslashes are escaped', () => {
    const event = { ...EC2_EVENT, detail: { ...EC2_EVENT.detail, state: 'say "hi" \\ bye' } };
    expect(JSON.parse(transform('{ "state": <state> }', event))).toEqual({ state: 'say "hi" \\ bye' });
  });

  it('"There is no validation when creating JSON path for your template": a path that matches nothing is accepted', () => {
    expect(
      inputTransformerSchema.safeParse({ inputPathsMap: { x: '$.no.such.field' }, inputTemplate: '"<x>"' })
        .success,
    ).toBe(true);
  });
});

describe(`input transformer: the InputTransformer API reference (${API})`, () => {
  const paths = { instance: '$.detail.instance', status: '$.detail.status' };
  const event = { detail: { instance: 'i-1', status: 'running' } };

  it('a text template without quotes: "<instance> is in state <status>"', () => {
    expect(transform('<instance> is in state <status>', event, paths)).toBe('i-1 is in state running');
  });

  it('quote marks inside the template are escaped with a slash and kept', () => {
    expect(transform('<instance> is in state \\"<status>\\"', event, paths)).toBe(
      'i-1 is in state \\"running\\"',
    );
  });

  it('valid JSON with variables in quotes or out', () => {
    const output = transform(
      '{"myInstance": <instance>,"myStatus": "<instance> is in state \\"<status>\\""}',
      event,
      paths,
    );
    expect(JSON.parse(output)).toEqual({ myInstance: 'i-1', myStatus: 'i-1 is in state "running"' });
  });

  it('in a JSON object template a placeholder cannot be used as an object key', () => {
    expect(refusal('{ <instance>: 1 }', paths)).toMatch(/object key/);
    expect(refusal('{ "<instance>": 1 }', paths)).toMatch(/object key/);
  });

  it(`as many as ${MAX_INPUT_PATHS} variables`, () => {
    const hundred = Object.fromEntries(Array.from({ length: MAX_INPUT_PATHS }, (_, i) => [`v${i}`, '$.id']));
    expect(
      inputTransformerSchema.safeParse({ inputPathsMap: hundred, inputTemplate: '"<v99>"' }).success,
    ).toBe(true);
    expect(refusal('"<v0>"', { ...hundred, v100: '$.id' })).toMatch(/at most 100 variables/);
  });

  it(`the template is 1 to ${MAX_INPUT_TEMPLATE_LENGTH} characters`, () => {
    const longest = `"${'x'.repeat(MAX_INPUT_TEMPLATE_LENGTH - 2)}"`;
    expect(inputTransformerSchema.safeParse({ inputTemplate: longest }).success).toBe(true);
    expect(refusal(`${longest} `, {})).toMatch(/8192/);
    expect(refusal('', {})).toMatch(/>=1|at least 1|too small/i);
  });

  it('dot notation, not bracket notation; keys cannot start with "AWS."', () => {
    expect(refusal('"<a>"', { a: "$['detail']" })).toMatch(/dot notation/);
    expect(refusal('"<AWS.x>"', { 'AWS.x': '$.id' })).toMatch(/letters, digits|aws\./);
  });
});

describe(`input transformer: the tutorial (${TUTORIAL})`, () => {
  it('"This event was of <detail-type> type." with the variable mapped to $.detail-type', () => {
    const event = { 'detail-type': 'customerCreated', source: 'example', detail: {} };
    const output = transform('"This event was of <detail-type> type."', event, {
      'detail-type': '$.detail-type',
    });
    expect(output).toBe('"This event was of customerCreated type."');
  });
});

describe(`input transformer: JSON path syntax (${GUIDE}, "Supported syntax includes")`, () => {
  const event = { detail: { 'a-b': { c_d: 1 }, 'x/y': 'slash', list: [{ id: 1 }, { id: 2 }] } };

  it('dot notation with dashes, underscores, alphanumerics, forward slashes and array indices', () => {
    expect(evaluateJsonPath('$.detail.a-b.c_d', event)).toEqual({ found: true, value: 1 });
    expect(evaluateJsonPath('$.detail.x/y', event)).toEqual({ found: true, value: 'slash' });
    expect(evaluateJsonPath('$.detail.list[1].id', event)).toEqual({ found: true, value: 2 });
    expect(evaluateJsonPath('$.detail.list[2].id', event)).toEqual({ found: false });
  });

  it('docs silent: a wildcard path finds the list of what it matches (JSONPath), substituted as a JSON array', () => {
    expect(evaluateJsonPath('$.detail.list[*].id', event)).toEqual({ found: true, value: [1, 2] });
    const output = applyInputTransformer(
      { inputPathsMap: { ids: '$.detail.list[*].id' }, inputTemplate: '{"ids": <ids>}' },
      event,
    );
    expect(JSON.parse(output)).toEqual({ ids: [1, 2] });
  });

  it('docs silent: objects, arrays, numbers and null are substituted as their JSON text; null inside quotes is "null"', () => {
    const customer = { detail: { after: { name: 'Acme', zip_code: null, tags: ['a'], status: 0 } } };
    const map = { after: '$.detail.after', zip: '$.detail.after.zip_code', status: '$.detail.after.status' };
    const output = applyInputTransformer(
      {
        inputPathsMap: map,
        inputTemplate: '{"record": <after>, "zip": <zip>, "status": <status>, "text": "<zip>/<status>"}',
      },
      customer,
    );
    expect(JSON.parse(output)).toEqual({
      record: customer.detail.after,
      zip: null,
      status: 0,
      text: 'null/0',
    });
  });

  it('docs silent: a placeholder naming no variable, and a template starting with [, are refused', () => {
    expect(refusal('"<nobody>"')).toMatch(/names no variable/);
    expect(refusal('[<instance>]')).toMatch(/starting with \[/);
  });
});

describe(`path parameters (${TARGETS}; ${HTTP_PARAMETERS})`, () => {
  const event = { detail: { customerId: 160030, organizationGuid: 'org-1', after: { name: 'Tyrell' } } };

  it('a value that is entirely a JSON path is replaced by the value at that path in the original event', () => {
    expect(resolvePathParameterValues(['$.detail.customerId', 'static'], event)).toEqual([
      '160030',
      'static',
    ]);
  });

  it('a JSON path only as a part of the value is not dynamic: the text stays as written', () => {
    expect(resolvePathParameterValues(['SELECT * FROM $.detail.state'], event)).toEqual([
      'SELECT * FROM $.detail.state',
    ]);
  });

  it('the values fill the wildcards ("*") of the API destination endpoint, in order', () => {
    const endpoint = 'https://x.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/*';
    expect(fillPathParameters(endpoint, resolvePathParameterValues(['$.detail.customerId'], event))).toBe(
      'https://x.my.salesforce.com/services/data/v62.0/sobjects/Account/Nutcache_Id__c/160030',
    );
  });

  it('docs silent: a missing, blank or non-scalar value, or one needing URL encoding, is refused', () => {
    expect(() => resolvePathParameterValues(['$.detail.nothing'], event)).toThrow(/no such value/);
    expect(() => resolvePathParameterValues(['$.detail.after'], event)).toThrow(/not a non-blank string/);
    expect(() => resolvePathParameterValues(['  '], event)).toThrow(/blank/);
    expect(() => fillPathParameters('https://x/*', ['a/b'])).toThrow(/URL encoding/);
    expect(() => fillPathParameters('https://x/*/*', ['a'])).toThrow(/2 '\*' wildcard/);
  });
});

describe('input transformer compiled once (local delivery reuses it for every event)', () => {
  it('an invalid transformer is refused when compiled, before any event', () => {
    expect(() =>
      compileInputTransformer({ inputPathsMap: PATHS, inputTemplate: '{"a": <nothing>}' }),
    ).toThrow(InputTransformerError);
  });

  it('the compiled transformer gives each event the body applyInputTransformer gives it', () => {
    const inputTemplate = '{"instance": <instance>, "state": "<state>", "rule": <aws.events.rule-name>}';
    const compiled = compileInputTransformer({ inputPathsMap: PATHS, inputTemplate });
    const stopped = { ...EC2_EVENT, detail: { 'instance-id': 'i-9', state: 'STOPPED' } };
    for (const event of [EC2_EVENT, stopped]) {
      expect(compiled.apply(event, EXAMPLE_RULE)).toBe(transform(inputTemplate, event));
    }
    expect(JSON.parse(compiled.apply(stopped, EXAMPLE_RULE))).toEqual({
      instance: 'i-9',
      state: 'STOPPED',
      rule: 'example',
    });
  });
});
