/**
 * The poller's memory is part of the configuration check: an organization is accepted only when its
 * all-new poll fits the configured memory with headroom (model in shared/engine/memory-fit.ts, measured
 * by `npm run bench`), and the function gets the memory the check assumed.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, listingMinutes, MAX_LISTING_MINUTES } from '../../infra/config.ts';
import {
  DEFAULT_POLLER_MEMORY_MB,
  HEADROOM,
  maxCustomersForMemory,
  peakMemoryMb,
  v8OldSpaceMb,
} from '../../shared/engine/memory-fit.ts';
import { configWith, GUID_A, GUID_B, synthesise } from './fixtures/synth.ts';

function issuesOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

describe('the poller memory setting', () => {
  it('defaults to 512 MB, and at 512 MB every organization the 15-minute listing accepts fits', () => {
    expect(configWith().pollerMemoryMb).toBe(DEFAULT_POLLER_MEMORY_MB);
    expect(DEFAULT_POLLER_MEMORY_MB).toBe(512);
    // The largest listing the poller's time allows (one API key of its own: 180 pages a minute).
    const longest = MAX_LISTING_MINUTES * 180 * 100;
    expect(listingMinutes(longest)).toBeLessThanOrEqual(MAX_LISTING_MINUTES);
    expect(maxCustomersForMemory(512)).toBeGreaterThanOrEqual(longest);
    expect(() =>
      configWith({ organizations: [{ organizationGuid: GUID_A, expectedCustomers: longest }] }),
    ).not.toThrow();
  });

  it('accepts the largest organization the configured memory fits with headroom, and refuses one more, naming the setting', () => {
    const pollerMemoryMb = 256;
    const fits = maxCustomersForMemory(pollerMemoryMb);
    expect(fits).toBeGreaterThan(0);
    expect(peakMemoryMb(fits)).toBeLessThanOrEqual(pollerMemoryMb * (1 - HEADROOM));
    expect(peakMemoryMb(fits + 1)).toBeGreaterThan(pollerMemoryMb * (1 - HEADROOM));
    const config = configWith({
      pollerMemoryMb,
      organizations: [{ organizationGuid: GUID_A, expectedCustomers: fits }],
    });
    expect(config.pollerMemoryMb).toBe(256);

    const issues = issuesOf(() =>
      configWith({
        pollerMemoryMb,
        organizations: [
          { organizationGuid: GUID_A, expectedCustomers: fits },
          { organizationGuid: GUID_B, expectedCustomers: fits + 1 },
        ],
      }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^organizations\[1\]\.expectedCustomers: /);
    expect(issues[0]).toContain('pollerMemoryMb');
    expect(issues[0]).toContain('256');
  });

  it('tells which memory would fit a refused organization', () => {
    const issues = issuesOf(() =>
      configWith({
        pollerMemoryMb: 128,
        organizations: [{ organizationGuid: GUID_A, expectedCustomers: 100_000 }],
      }),
    );
    expect(issues).toHaveLength(1);
    const suggested = Number(/"pollerMemoryMb" to at least (\d+)/.exec(issues[0] ?? '')?.[1]);
    expect(maxCustomersForMemory(suggested)).toBeGreaterThanOrEqual(100_000);
    expect(maxCustomersForMemory(suggested - 1)).toBeLessThan(100_000);
  });

  it('refuses a memory size Lambda does not offer', () => {
    for (const pollerMemoryMb of [64, 10_241, 512.5]) {
      const issues = issuesOf(() => configWith({ pollerMemoryMb }));
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(/^pollerMemoryMb: /);
    }
  });

  it('gives the poller function the configured memory, and the V8 heap limit the benchmark measured with', () => {
    const { template } = synthesise({ pollerMemoryMb: 1024 });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: {
        Description?: string;
        MemorySize?: number;
        Environment?: { Variables?: Record<string, unknown> };
      };
    }[];
    const poller = functions.filter((f) => f.Properties.Description?.startsWith('Polls Nutcache'));
    expect(poller.map((f) => f.Properties.MemorySize)).toEqual([1024]);
    expect(poller[0]?.Properties.Environment?.Variables?.NODE_OPTIONS).toBe(
      `--enable-source-maps --max-old-space-size=${v8OldSpaceMb(1024)}`,
    );
    const others = functions.filter((f) => !f.Properties.Description?.startsWith('Polls Nutcache'));
    for (const other of others)
      expect(other.Properties.Environment?.Variables?.NODE_OPTIONS ?? '').not.toContain('max-old-space');
  });
});
