/**
 * One poll of one configured organization, as the Lambda handler runs it: its own secret only (Secrets
 * Manager faked with aws-sdk-client-mock), an unset secret as a quiet `unconfigured` outcome, a secret
 * that cannot be read as a failed poll of that organization alone. Nutcache is an in-memory fake; the
 * store, bus and dead letters are the in-memory adapters.
 */
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidSecretError, type NutcacheSecret } from '../../shared/nutcache/secret.ts';
import type { CustomerSource } from '../../shared/nutcache/types.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus } from '../../shared/publish/memory.ts';
import { OrganizationSecrets, SecretUnavailableError } from '../../shared/runtime/organization-secrets.ts';
import { POLL_UNCONFIGURED_METRIC, pollOrganization } from '../../shared/runtime/poll-organization.ts';
import { InMemorySnapshotStore } from '../../shared/store/memory.ts';
import { RecordingMetrics } from '../../shared/util/metrics.ts';
import { recordingLog } from '../client/helpers.ts';
import { TestClock } from '../support/clock.ts';
import { customer, FakeSource } from '../support/fake-source.ts';
import { RejectingSource } from './fakes.ts';

const GUID = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache-acme-AbCdEf';
const organization = { organizationGuid: GUID, secretArn: SECRET_ARN };
const credentials = (apiKey: string) => ({
  apiKey,
  username: 'ops@example.com',
  password: 'pw-Secret-1',
  organizationGuid: GUID,
});

const client = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockClient(client);
let value: string;

function setup() {
  const clock = new TestClock();
  const nutcache = new FakeSource();
  for (const id of [1, 2]) nutcache.put(customer(id));
  const sources: NutcacheSecret[] = [];
  const deps = {
    store: new InMemorySnapshotStore({ clock }),
    bus: new MemoryBus(),
    deadLetters: new MemoryDeadLetterSink(),
    clock,
    log: recordingLog(),
    metrics: new RecordingMetrics(),
    secrets: new OrganizationSecrets({ client }),
    createSource: (secret: NutcacheSecret): CustomerSource => {
      sources.push(secret);
      return secret.apiKey === 'rotated' ? nutcache : new RejectingSource();
    },
  };
  return { deps, sources };
}

beforeEach(() => {
  sm.reset();
  value = JSON.stringify(credentials('rotated'));
  sm.on(GetSecretValueCommand).callsFake(() => ({ ARN: SECRET_ARN, SecretString: value }));
});

describe('pollOrganization', () => {
  it('polls with the organization’s credentials', async () => {
    const { deps } = setup();
    const summary = await pollOrganization(deps, organization, { organizationGuid: GUID });
    expect(summary).toMatchObject({ organizationGuid: GUID, outcome: 'success', counts: { snapshot: 2 } });
    expect(deps.metrics.get('PollSucceeded')).toBe(1);
  });

  it('reads the secret again, bypassing the cache, after Nutcache answers 401, and polls once more', async () => {
    const { deps, sources } = setup();
    value = JSON.stringify(credentials('old'));
    await deps.secrets.read(SECRET_ARN); // a warm instance holds the value from before the rotation
    value = JSON.stringify(credentials('rotated'));
    const summary = await pollOrganization(deps, organization, { organizationGuid: GUID });
    expect(summary.outcome).toBe('success');
    expect(sources.map((s) => s.apiKey)).toEqual(['old', 'rotated']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('skips an unconfigured organization quietly: one log line, one metric, no failure, no Nutcache call', async () => {
    const { deps, sources } = setup();
    value = JSON.stringify({
      apiKey: '',
      username: '',
      password: '',
      organizationGuid: GUID,
      placeholder: 'x',
    });
    const summary = await pollOrganization(deps, organization, { organizationGuid: GUID });
    expect(summary).toMatchObject({ organizationGuid: GUID, outcome: 'unconfigured', nutcacheRequests: 0 });
    expect(deps.metrics.get(POLL_UNCONFIGURED_METRIC)).toBe(1);
    expect([...deps.metrics.counts.keys()]).toEqual([POLL_UNCONFIGURED_METRIC]);
    expect(deps.log.lines).toHaveLength(1);
    expect(deps.log.lines[0]).toMatch(/^warn .*nutcache-acme-AbCdEf.*put-secret-value/);
    expect(sources).toEqual([]);
    expect(await deps.store.getOrgState(GUID)).toBeUndefined();
  });

  it('fails only this poll, with PollFailed and a one-line error naming the secret, when it cannot be read', async () => {
    const { deps } = setup();
    sm.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      }),
    );
    await expect(pollOrganization(deps, organization, { organizationGuid: GUID })).rejects.toBeInstanceOf(
      SecretUnavailableError,
    );
    expect(deps.metrics.get('PollFailed')).toBe(1);
    expect(deps.log.lines).toHaveLength(1);
    expect(deps.log.lines[0]).toMatch(/^error .*nutcache-acme-AbCdEf.*ResourceNotFoundException/);
  });

  it('fails loudly for a partly filled secret, naming the empty fields and no value', async () => {
    const { deps } = setup();
    value = JSON.stringify({ ...credentials('rotated'), password: '' });
    const failure = await pollOrganization(deps, organization, { organizationGuid: GUID }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure).toBeInstanceOf(InvalidSecretError);
    expect(failure?.message).toMatch(/password is empty or missing/);
    expect(deps.metrics.get('PollFailed')).toBe(1);
    expect(deps.log.lines.join('\n')).not.toMatch(/rotated|ops@example\.com/);
  });
});
