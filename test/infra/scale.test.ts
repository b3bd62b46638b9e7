/**
 * Organizations are data: a configuration listing 2,000 organizations synthesises the same stack as one
 * listing a single organization (the same resources, the same function environments, byte for byte in
 * size), and that stack passes every rule a real account enforces. The organizations reach the deployment
 * through the registrar's S3 asset, not the template.
 */
import { describe, expect, it } from 'vitest';
import { checkAccountRules } from '../support/account-rules.ts';
import { synthesise } from './fixtures/synth.ts';

type Json = Record<string, unknown>;

function organizations(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    organizationGuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    label: `Organization ${i}`,
    scheduleRateMinutes: 5 + (i % 60),
    apiKeyGroup: `key-${i % 500}`,
    // The naming convention (no stack resource); `create` keeps a stack secret, for upgrades (upgrade.test.ts).
    secret: { type: 'convention' as const },
  }));
}

/** Each function's environment, as the size in bytes of its variables (keys and values, as Lambda counts). */
function environmentSizes(template: Json): Record<string, number> {
  const resources = template.Resources as Record<string, { Type: string; Properties: Json }>;
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id, r]) => [id, Buffer.byteLength(JSON.stringify(r.Properties.Environment ?? {}))]),
  );
}

function resourceCounts(template: Json): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of Object.values(template.Resources as Record<string, { Type: string }>)) {
    counts[r.Type] = (counts[r.Type] ?? 0) + 1;
  }
  return counts;
}

describe('a deployment of 2,000 organizations', () => {
  const one = synthesise({ organizations: organizations(1) });
  const many = synthesise({ organizations: organizations(2_000) });
  const oneTemplate = one.template.toJSON() as Json;
  const manyTemplate = many.template.toJSON() as Json;

  it('has exactly the resources of a deployment of one organization', () => {
    expect(Object.keys(manyTemplate.Resources as Json).sort()).toEqual(
      Object.keys(oneTemplate.Resources as Json).sort(),
    );
    expect(resourceCounts(manyTemplate)).toEqual(resourceCounts(oneTemplate));
    console.log(
      `[scale] 1 and 2,000 organizations: ${Object.keys(manyTemplate.Resources as Json).length} resources; ` +
        `function environments (bytes): ${JSON.stringify(environmentSizes(manyTemplate))}`,
    );
  });

  it('gives every function an environment of the same size as with one organization', () => {
    expect(environmentSizes(manyTemplate)).toEqual(environmentSizes(oneTemplate));
  });

  it('has a template of the same size, give or take the asset hash', () => {
    const size = (t: Json) => Buffer.byteLength(JSON.stringify(t));
    expect(Math.abs(size(manyTemplate) - size(oneTemplate))).toBeLessThan(200);
  });

  it('passes every rule a real account enforces', () => {
    expect(checkAccountRules(manyTemplate, many.config)).toEqual([]);
  });
});
