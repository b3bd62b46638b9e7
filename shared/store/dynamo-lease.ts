/**
 * The lease and the organization's state item on DynamoDB: conditional UpdateItems built from the named
 * fragments of lease-conditions.ts, and the strongly consistent read of the state item. A lease held by a
 * process of this host that no longer runs is taken over at once (lease-rules.ts tells which).
 */
import { z } from 'zod';
import type { Clock, LeaseResult, OrgState } from '../ports.ts';
import { type DynamoCalls, type Item, unlessConditionFails } from './dynamo-calls.ts';
import { ORG_STATE_PATCH_FIELDS, orgPk, orgStateItemSchema, SK } from './layout.ts';
import { acquireForm, HELD_BY_THIS_POLL, LEASE_ATTRIBUTE_NAMES, LEASE_HELD } from './lease-conditions.ts';
import { goneHolder, type LeaseView, leaseView, otherHolder, toOrgState } from './lease-rules.ts';
import type { OrgStatePatch } from './protocol.ts';
import { TABLE_KEYS } from './table.ts';

const OWNER_AND_EXPIRY = { '#owner': 'leaseOwner', '#exp': 'leaseExpiresAt' } as const;
/** Tries of acquireLease before giving up on a lease that keeps changing under it. */
const ACQUIRE_ATTEMPTS = 4;

function stateKey(organizationGuid: string): Item {
  return { [TABLE_KEYS.partitionKey]: orgPk(organizationGuid), [TABLE_KEYS.sortKey]: SK.state };
}

/**
 * Takes the lease and hands out the next poll number in one conditional UpdateItem. A failed condition
 * while the lease is held by someone else answers "busy"; while it is free, the poll-number half of the
 * condition failed and the other form fits; a lease that keeps changing is a race with a release: retry.
 */
export async function acquireLease(
  dynamo: DynamoCalls,
  clock: Clock,
  lease: { organizationGuid: string; owner: string; ttlMs: number },
): Promise<LeaseResult> {
  let gone: string | undefined;
  for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
    const state = await tryAcquire(dynamo, clock.now(), attempt, { ...lease, gone });
    if (state) return { acquired: true, pollNumber: state.pollNumber, state };
    const item = await getStateItem(dynamo, lease.organizationGuid);
    const busy = otherHolder(item, lease.owner, clock.now());
    if (busy) return busy;
    // The holder may be a process of this host that is gone: the next attempt may take its lease.
    gone = goneHolder(item);
  }
  throw new Error(
    `acquireLease: the lease of organization ${lease.organizationGuid} kept changing; try again`,
  );
}

/**
 * One conditional UpdateItem in the form for `attempt` (taking the lease of `gone` too, when set);
 * undefined when its condition failed.
 */
async function tryAcquire(
  dynamo: DynamoCalls,
  now: number,
  attempt: number,
  lease: { organizationGuid: string; owner: string; ttlMs: number; gone: string | undefined },
): Promise<OrgState | undefined> {
  const form = acquireForm(attempt, lease.gone !== undefined);
  const write = dynamo.update({
    Key: stateKey(lease.organizationGuid),
    UpdateExpression: form.update,
    ConditionExpression: form.condition,
    ExpressionAttributeNames: LEASE_ATTRIBUTE_NAMES,
    ExpressionAttributeValues: {
      ':owner': lease.owner,
      ':exp': now + lease.ttlMs,
      ':now': now,
      ':guid': lease.organizationGuid,
      ':false': false,
      ':clock': Math.floor(now / 1000),
      ...form.extraValues,
      ...(lease.gone !== undefined ? { ':gone': lease.gone } : {}),
    },
    ReturnValues: 'ALL_NEW',
  });
  const out = await unlessConditionFails(write, undefined);
  return out && parseState(lease.organizationGuid, out.Attributes);
}

/** Extends the lease if this owner still holds it; false when it does not. */
export function renewLease(
  dynamo: DynamoCalls,
  organizationGuid: string,
  owner: string,
  expiresAt: number,
): Promise<boolean> {
  return updateIfHeld(dynamo, organizationGuid, owner, 'SET #exp = :exp', { ':exp': expiresAt });
}

/** Gives the lease up if this owner still holds it; a lease that is not ours (any more) is left alone. */
export async function releaseLease(
  dynamo: DynamoCalls,
  organizationGuid: string,
  owner: string,
): Promise<void> {
  await updateIfHeld(dynamo, organizationGuid, owner, 'REMOVE #owner, #exp', {});
}

/** Applies `update` to the lease while it is held by this poll; false when it is not (nothing written). */
async function updateIfHeld(
  dynamo: DynamoCalls,
  organizationGuid: string,
  owner: string,
  update: string,
  values: Record<string, unknown>,
): Promise<boolean> {
  const write = dynamo.update({
    Key: stateKey(organizationGuid),
    UpdateExpression: update,
    ConditionExpression: HELD_BY_THIS_POLL,
    ExpressionAttributeNames: OWNER_AND_EXPIRY,
    ExpressionAttributeValues: { ':owner': owner, ...values },
  });
  return (await unlessConditionFails(write, undefined)) !== undefined;
}

/** The lease as stored (expired or not); undefined when nobody holds it. */
export async function readLease(
  dynamo: DynamoCalls,
  organizationGuid: string,
): Promise<LeaseView | undefined> {
  return leaseView(await getStateItem(dynamo, organizationGuid));
}

/** Removes the lease whoever holds it (an operator's decision); what it was, undefined when it was free. */
export async function breakLease(
  dynamo: DynamoCalls,
  organizationGuid: string,
): Promise<LeaseView | undefined> {
  const write = dynamo.update({
    Key: stateKey(organizationGuid),
    UpdateExpression: 'REMOVE #owner, #exp',
    ConditionExpression: LEASE_HELD,
    ExpressionAttributeNames: OWNER_AND_EXPIRY,
    ReturnValues: 'ALL_OLD',
  });
  const old = (await unlessConditionFails(write, undefined))?.Attributes;
  return leaseView(old ? checkStateItem(organizationGuid, old) : undefined);
}

/** Sets the patched fields (and `initialized` false if it was never set), creating the item if needed. */
export async function updateOrgState(
  dynamo: DynamoCalls,
  organizationGuid: string,
  patch: OrgStatePatch,
): Promise<void> {
  const names: Record<string, string> = { '#guid': 'organizationGuid' };
  const values: Record<string, unknown> = { ':guid': organizationGuid };
  const sets = ['#guid = :guid'];
  for (const field of ORG_STATE_PATCH_FIELDS) {
    const value = patch[field];
    if (value === undefined) continue;
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  if (patch.initialized === undefined) {
    names['#initialized'] = 'initialized';
    values[':false'] = false;
    sets.push('#initialized = if_not_exists(#initialized, :false)');
  }
  await dynamo.update({
    Key: stateKey(organizationGuid),
    UpdateExpression: `SET ${sets.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/** The state item, read strongly consistent; undefined when the organization has none. */
export async function getStateItem(dynamo: DynamoCalls, organizationGuid: string) {
  const out = await dynamo.get({ Key: stateKey(organizationGuid), ConsistentRead: true });
  return out.Item ? checkStateItem(organizationGuid, out.Item) : undefined;
}

function parseState(organizationGuid: string, attributes: Item | undefined): OrgState {
  return toOrgState(checkStateItem(organizationGuid, attributes));
}

function checkStateItem(organizationGuid: string, item: Item | undefined) {
  const checked = orgStateItemSchema.safeParse(item);
  if (!checked.success) {
    throw new Error(
      `state item of organization ${organizationGuid} is corrupt: ${z.prettifyError(checked.error)}`,
    );
  }
  return checked.data;
}
