import { describe, expect, it } from 'vitest';
import { otherHolder, toOrgState } from '../../shared/store/lease-rules.ts';

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

describe('the organization state a caller sees', () => {
  it('leaves the lease out, defaults the poll number and initialized, and drops notBefore 0', () => {
    expect(
      toOrgState({ organizationGuid: 'org', notBefore: 0, lastPages: 3, ...{ leaseOwner: 'a' } }),
    ).toEqual({ organizationGuid: 'org', pollNumber: 0, initialized: false, lastPages: 3 });
  });
});
