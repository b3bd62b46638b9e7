/** Organizations that share one Nutcache API key share its request rate and must fit the poller's time. */
import { describe, expect, it } from 'vitest';
import { ConfigError, listingMinutes, rateShare } from '../../infra/config.ts';
import { ENV } from '../../shared/config/env.ts';
import { resolveIntrinsics } from './fixtures/intrinsics.ts';
import { configWith, GUID_A, GUID_B, GUID_C, synthesise } from './fixtures/synth.ts';

type Json = Record<string, unknown>;

describe('organizations sharing an API key', () => {
  it('each get their share of the key’s 4 requests a second and 180 a minute, so together they never exceed it', () => {
    const { template } = synthesise({
      organizations: [
        { organizationGuid: GUID_A, apiKeyGroup: 'acme' },
        { organizationGuid: GUID_B, apiKeyGroup: 'acme' },
        { organizationGuid: GUID_C },
      ],
    });
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((r) =>
      JSON.stringify(r).includes(ENV.organizations),
    ) as { Properties: { Environment: { Variables: Json } } };
    const organizations = JSON.parse(
      resolveIntrinsics(fn.Properties.Environment.Variables[ENV.organizations], (id) => `<${id}>`),
    ) as { organizationGuid: string; rateLimit: { perSecond: number; perMinute: number } }[];
    expect(organizations.map((o) => [o.organizationGuid, o.rateLimit])).toEqual([
      [GUID_A, { perSecond: 2, perMinute: 90 }],
      [GUID_B, { perSecond: 2, perMinute: 90 }],
      [GUID_C, { perSecond: 4, perMinute: 180 }],
    ]);
    const acme = organizations.filter((o) => o.organizationGuid !== GUID_C);
    expect(acme.reduce((sum, o) => sum + o.rateLimit.perSecond, 0)).toBeLessThan(5);
    expect(acme.reduce((sum, o) => sum + o.rateLimit.perMinute, 0)).toBeLessThan(200);
  });

  it('refuses more than four organizations on one key, naming the field', () => {
    const guids = ['a', 'b', 'c', 'd', 'e'].map((c) => `${c.repeat(8)}-0000-4000-8000-000000000000`);
    expect(() =>
      configWith({
        organizations: guids.map((organizationGuid) => ({ organizationGuid, apiKeyGroup: 'big' })),
      }),
    ).toThrow(/organizations\[0\]\.apiKeyGroup: is shared by 5 organizations/);
  });

  it('refuses an organization whose full listing cannot finish within the poller’s timeout', () => {
    expect(listingMinutes(230_000, 1)).toBeLessThan(13);
    expect(listingMinutes(100_000, 2)).toBeGreaterThan(11);
    let error: unknown;
    try {
      configWith({ organizations: [{ organizationGuid: GUID_A, expectedCustomers: 300_000 }] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(
      /organizations\[0\]\.expectedCustomers: a full listing of 300000 customers takes about 17 minutes/,
    );
  });

  it('splits the rate evenly, never below one request', () => {
    expect(rateShare(1)).toEqual({ perSecond: 4, perMinute: 180 });
    expect(rateShare(3)).toEqual({ perSecond: 1, perMinute: 60 });
    expect(rateShare(4)).toEqual({ perSecond: 1, perMinute: 45 });
  });
});
