/**
 * The lease rules both adapters keep, as plain functions: who holds a lease that cannot be taken, and the
 * organization state a caller sees of a stored state item.
 */
import type { OrgState } from '../ports.ts';

/** The lease fields of a stored state item. */
export interface StoredLease {
  readonly leaseOwner?: string | undefined;
  readonly leaseExpiresAt?: number | undefined;
}

/**
 * The holder of a lease `owner` cannot take at `now`: set when someone else holds it and it has not
 * expired; undefined when the lease is free, expired or already `owner`'s.
 */
export function otherHolder(
  lease: StoredLease | undefined,
  owner: string,
  now: number,
): { readonly acquired: false; readonly holder: string; readonly expiresAt: number } | undefined {
  const holder = lease?.leaseOwner;
  const expiresAt = lease?.leaseExpiresAt;
  if (holder === undefined || expiresAt === undefined) return undefined;
  if (expiresAt < now || holder === owner) return undefined;
  return { acquired: false, holder, expiresAt };
}

/** The fields of a stored state item that make an OrgState (the lease is left out). */
export interface StoredOrgState {
  readonly organizationGuid: string;
  readonly pollNumber?: number | undefined;
  readonly initialized?: boolean | undefined;
  readonly lastPages?: number | undefined;
  readonly lastSuccessAt?: string | undefined;
  readonly resyncRequested?: boolean | undefined;
  readonly notBefore?: number | undefined;
}

/** The OrgState of a stored state item: absent optional fields stay absent; `notBefore` 0 is absent. */
export function toOrgState(item: StoredOrgState): OrgState {
  return {
    organizationGuid: item.organizationGuid,
    pollNumber: item.pollNumber ?? 0,
    initialized: item.initialized ?? false,
    ...(item.lastPages !== undefined ? { lastPages: item.lastPages } : {}),
    ...(item.lastSuccessAt !== undefined ? { lastSuccessAt: item.lastSuccessAt } : {}),
    ...(item.resyncRequested !== undefined ? { resyncRequested: item.resyncRequested } : {}),
    ...(item.notBefore ? { notBefore: item.notBefore } : {}),
  };
}
