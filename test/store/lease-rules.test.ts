import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  goneHolder,
  leaseHolder,
  otherHolder,
  processLeaseOwner,
  toOrgState,
} from '../../shared/store/lease-rules.ts';

describe('who keeps a lease from being taken', () => {
  const now = 1_000_000;

  it('nobody when the lease is free, expired or already the caller’s', () => {
    expect(otherHolder(undefined, 'a', now)).toBeUndefined();
    expect(otherHolder({}, 'a', now)).toBeUndefined();
    expect(otherHolder({ leaseOwner: 'b', leaseExpiresAt: now - 1 }, 'a', now)).toBeUndefined();
    expect(otherHolder({ leaseOwner: 'a', leaseExpiresAt: now + 60_000 }, 'a', now)).toBeUndefined();
  });

  it('another owner whose lease runs until now or later', () => {
    expect(otherHolder({ leaseOwner: 'b', leaseExpiresAt: now }, 'a', now)).toEqual({
      acquired: false,
      holder: 'b',
      expiresAt: now,
    });
  });
});

describe('what a lease owner id tells of its holder', () => {
  const here = hostname();
  const dead = () => false;

  it('names this process, which is alive', () => {
    expect(leaseHolder(processLeaseOwner())).toEqual({ pid: process.pid, host: here, alive: true });
  });

  it('tells a gone process of this host, and lets its lease be taken before it expires', () => {
    const owner = `pid:4242@${here}#abcd1234`;
    expect(leaseHolder(owner, dead)).toEqual({ pid: 4242, host: here, alive: false });
    const lease = { leaseOwner: owner, leaseExpiresAt: 2_000_000 };
    expect(goneHolder(lease, dead)).toBe(owner);
    expect(otherHolder(lease, 'a', 1_000_000, dead)).toBeUndefined();
  });

  it('cannot tell for another host or an opaque id, so their leases run until they expire', () => {
    expect(leaseHolder('pid:4242@elsewhere#abcd1234', dead)).toMatchObject({ alive: undefined });
    expect(leaseHolder('8d1f6a3e-uuid', dead)).toEqual({ alive: undefined });
    const lease = { leaseOwner: 'pid:4242@elsewhere#x', leaseExpiresAt: 2_000_000 };
    expect(goneHolder(lease, dead)).toBeUndefined();
    expect(otherHolder(lease, 'a', 1_000_000, dead)).toMatchObject({ acquired: false });
  });
});

describe('the organization state a caller sees', () => {
  it('leaves the lease out, defaults the poll number and initialized, and drops notBefore 0', () => {
    expect(
      toOrgState({ organizationGuid: 'org', notBefore: 0, lastPages: 3, ...{ leaseOwner: 'a' } }),
    ).toEqual({ organizationGuid: 'org', pollNumber: 0, initialized: false, lastPages: 3 });
  });
});
