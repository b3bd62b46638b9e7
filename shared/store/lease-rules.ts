/**
 * The lease rules both adapters keep, as plain functions: who holds a lease that cannot be taken (a holder
 * that is a process of this host no longer running holds nothing), and the organization state a caller
 * sees of a stored state item.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { OrgState } from '../ports.ts';

/** An owner id that names its process: `pid:<pid>@<host>#<random>` (other owner ids are opaque). */
const PROCESS_OWNER = /^pid:(\d+)@([^#]+)#/;

/** The lease owner id of this process: whoever finds it later on this host can tell whether it still runs. */
export function processLeaseOwner(): string {
  return `pid:${process.pid}@${hostname()}#${randomUUID().slice(0, 8)}`;
}

/** Whether process `pid` of this host is alive (a process of another user counts as alive). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lease owner id tells of its holder. */
export interface LeaseHolder {
  readonly pid?: number;
  readonly host?: string;
  /** Whether its process runs; undefined when that cannot be told (another host, or an opaque id). */
  readonly alive: boolean | undefined;
}

export function leaseHolder(owner: string, isAlive: (pid: number) => boolean = processAlive): LeaseHolder {
  const match = PROCESS_OWNER.exec(owner);
  if (!match) return { alive: undefined };
  const pid = Number(match[1]);
  const host = match[2] ?? '';
  return { pid, host, alive: host === hostname() ? isAlive(pid) : undefined };
}

/** A lease and when it runs out, as `readLease` shows it. */
export interface LeaseView {
  readonly holder: string;
  readonly expiresAt: number;
}

/** What an operator (and `status`) may do with a lease beyond the poll protocol. */
export interface LeaseInspection {
  /** The lease as stored (expired or not); undefined when nobody holds it. */
  readLease(organizationGuid: string): Promise<LeaseView | undefined>;
  /** Removes the lease whoever holds it; what it was. Its holder can no longer renew or commit. */
  breakLease(organizationGuid: string): Promise<LeaseView | undefined>;
}

/** The stored lease, if any. */
export function leaseView(lease: StoredLease | undefined): LeaseView | undefined {
  const holder = lease?.leaseOwner;
  const expiresAt = lease?.leaseExpiresAt;
  return holder === undefined || expiresAt === undefined ? undefined : { holder, expiresAt };
}

/** The holder of the stored lease when it is a process of this host that no longer runs. */
export function goneHolder(
  lease: StoredLease | undefined,
  isAlive: (pid: number) => boolean = processAlive,
): string | undefined {
  const holder = lease?.leaseOwner;
  return holder !== undefined && leaseHolder(holder, isAlive).alive === false ? holder : undefined;
}

/** The lease fields of a stored state item. */
export interface StoredLease {
  readonly leaseOwner?: string | undefined;
  readonly leaseExpiresAt?: number | undefined;
}

/**
 * The holder of a lease `owner` cannot take at `now`: set when someone else holds it and it has not
 * expired; undefined when the lease is free, expired, already `owner`'s, or held by a gone process.
 */
export function otherHolder(
  lease: StoredLease | undefined,
  owner: string,
  now: number,
  isAlive: (pid: number) => boolean = processAlive,
): { readonly acquired: false; readonly holder: string; readonly expiresAt: number } | undefined {
  const view = leaseView(lease);
  if (!view || view.expiresAt < now || view.holder === owner || goneHolder(lease, isAlive)) return undefined;
  return { acquired: false, ...view };
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
