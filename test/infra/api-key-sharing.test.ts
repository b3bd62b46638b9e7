/**
 * Organizations that share one Nutcache API key: their polls run one at a time (one message group of the
 * FIFO poll queue), each at the key's full rate, so any number of them may share a key and together they
 * never exceed it; each poll must still fit the poller's time.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, listingMinutes } from '../../infra/config.ts';
import { configWith, GUID_A, GUID_B, GUID_C, synthesise } from './fixtures/synth.ts';

describe('organizations sharing an API key', () => {
  it('are serialised by the poll queue, not by splitting the rate in the template: FIFO, one message at a time per group', () => {
    const { template } = synthesise({
      organizations: [
        { organizationGuid: GUID_A, apiKeyGroup: 'acme' },
        { organizationGuid: GUID_B, apiKeyGroup: 'acme' },
        { organizationGuid: GUID_C },
      ],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('acme');
  });

  it('accepts any number of organizations on one key (the daily budget check still warns)', () => {
    const guids = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => `${c.repeat(8)}-0000-4000-8000-000000000000`);
    const config = configWith({
      organizations: guids.map((organizationGuid) => ({ organizationGuid, apiKeyGroup: 'big' })),
    });
    expect(config.organizations).toHaveLength(6);
  });

  it('refuses an organization whose full listing cannot finish within the poller’s timeout', () => {
    expect(listingMinutes(230_000)).toBeLessThan(13);
    expect(listingMinutes(250_000)).toBeGreaterThan(13);
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
});
