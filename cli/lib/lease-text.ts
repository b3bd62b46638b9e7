/**
 * An organization's lease as the CLI tells it: who holds it (process and host when the owner id names
 * them), whether that holder seems alive, and when the lease expires, in relative time.
 */
import { type LeaseInspection, type LeaseView, leaseHolder } from '../../shared/store/lease-rules.ts';

/** `48 s`, `3 min`, `2 h`: a duration as a person reads it. */
export function relativeTime(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

/** The lease's holder and whether it seems alive, e.g. `pid 4242 on build-1 (running)`. */
export function holderText(holder: string): string {
  const seen = leaseHolder(holder);
  const who = seen.pid !== undefined ? `pid ${seen.pid} on ${seen.host}` : `poll ${holder}`;
  const alive =
    seen.alive === true ? 'running' : seen.alive === false ? 'gone' : 'cannot tell whether it still runs';
  return `${who} (${alive})`;
}

export interface LeaseDescription {
  readonly text: string;
  /** The poll that held the lease stopped without releasing it (killed, crashed): it was interrupted. */
  readonly interrupted: boolean;
}

/** One line on the lease for `status`. */
export function describeLease(lease: LeaseView | undefined, now: number): LeaseDescription {
  if (!lease) return { text: 'free (no poll running)', interrupted: false };
  const holder = holderText(lease.holder);
  if (leaseHolder(lease.holder).alive === false) {
    return {
      text: `left by ${holder}: that poll was interrupted; the next poll takes over at once`,
      interrupted: true,
    };
  }
  if (lease.expiresAt < now) {
    return {
      text: `left by ${holder}, expired ${relativeTime(now - lease.expiresAt)} ago: that poll was interrupted`,
      interrupted: true,
    };
  }
  return { text: `held by ${holder}, expires in ${relativeTime(lease.expiresAt - now)}`, interrupted: false };
}

/**
 * The busy answer of a poll that found the lease held: one line, plus a hint line when the holder may not
 * be running.
 */
export function busyText(organizationGuid: string, lease: LeaseView, now: number): string {
  const line = `poll - busy: another poll holds the lease of organization ${organizationGuid}: ${holderText(lease.holder)}; the lease expires in ${relativeTime(lease.expiresAt - now)}; nothing was done`;
  if (leaseHolder(lease.holder).alive === true) return line;
  return `${line}\n  if no poll of it runs, wait for the lease to expire or run poll --break-lease`;
}

/** The busy line of `result`, from the lease as it is now; `fallback` when it was released meanwhile. */
export async function busyLine(
  leases: LeaseInspection,
  organizationGuid: string,
  fallback: string,
): Promise<string> {
  const lease = await leases.readLease(organizationGuid);
  return lease ? busyText(organizationGuid, lease, Date.now()) : fallback;
}

/**
 * `poll --break-lease`: removes the organization's lease unless its holder is a process of this host that
 * still runs (stop that one instead). `broken` false when it refused; `text` says what happened.
 */
export async function breakLeaseOf(
  leases: LeaseInspection,
  organizationGuid: string,
): Promise<{ readonly broken: boolean; readonly text: string }> {
  const current = await leases.readLease(organizationGuid);
  if (!current) return { broken: true, text: `organization ${organizationGuid} had no lease to break` };
  if (leaseHolder(current.holder).alive === true) {
    return {
      broken: false,
      text: `poll - busy: lease not broken: organization ${organizationGuid} is being polled by ${holderText(current.holder)}; stop that poll first (Ctrl-C), or wait for its lease to expire (in ${relativeTime(current.expiresAt - Date.now())})`,
    };
  }
  const was = (await leases.breakLease(organizationGuid)) ?? current;
  return {
    broken: true,
    text: `broke the lease of organization ${organizationGuid} held by ${holderText(was.holder)}`,
  };
}
