/**
 * Loading one organization's Nutcache secret: a 5-minute cache (rotation is seen within 5 minutes), a
 * bypass when asked (after Nutcache answers 401), an unconfigured secret read again on every poll until
 * it is filled in, and a one-line, credential-free error for a secret that cannot be read. Secrets
 * Manager is faked with aws-sdk-client-mock.
 */
import {
  DecryptionFailure,
  GetSecretValueCommand,
  InvalidRequestException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidSecretError } from '../../shared/nutcache/secret.ts';
import { OrganizationSecrets, SecretUnavailableError } from '../../shared/runtime/organization-secrets.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache-acme-AbCdEf';
const GUID = '846E176E-7C4B-4BFD-A894-C98F2988927E';
const value = (apiKey: string) =>
  JSON.stringify({ apiKey, username: 'ops@example.com', password: 'pw-Secret-1', organizationGuid: GUID });
const unset = JSON.stringify({ apiKey: '', username: '', password: '', organizationGuid: GUID });

const client = new SecretsManagerClient({ region: 'eu-west-1' });
const sm = mockClient(client);
let answer: string;

beforeEach(() => {
  sm.reset();
  answer = value('key-1');
  sm.on(GetSecretValueCommand).callsFake(() => ({ ARN, SecretString: answer }));
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const calls = () => sm.commandCalls(GetSecretValueCommand).length;

describe('OrganizationSecrets', () => {
  it('reads a secret once per 5 minutes, so a rotated value is used within 5 minutes', async () => {
    const secrets = new OrganizationSecrets({ client });
    expect(await secrets.read(ARN)).toMatchObject({ state: 'configured', secret: { apiKey: 'key-1' } });
    answer = value('key-2');
    vi.advanceTimersByTime(4 * 60_000);
    expect(await secrets.read(ARN)).toMatchObject({ secret: { apiKey: 'key-1' } });
    expect(calls()).toBe(1);
    vi.advanceTimersByTime(60_000 + 1);
    expect(await secrets.read(ARN)).toMatchObject({ secret: { apiKey: 'key-2' } });
    expect(calls()).toBe(2);
  });

  it('reads it again at once when asked to bypass the cache (after a 401)', async () => {
    const secrets = new OrganizationSecrets({ client });
    await secrets.read(ARN);
    answer = value('key-2');
    expect(await secrets.read(ARN, { fresh: true })).toMatchObject({ secret: { apiKey: 'key-2' } });
    expect(await secrets.read(ARN)).toMatchObject({ secret: { apiKey: 'key-2' } });
    expect(calls()).toBe(2);
  });

  it('reads an unconfigured secret again on every poll, once each, until it is filled in', async () => {
    const secrets = new OrganizationSecrets({ client });
    answer = unset;
    expect(await secrets.read(ARN)).toEqual({ state: 'unconfigured' });
    expect(await secrets.read(ARN)).toEqual({ state: 'unconfigured' });
    expect(calls()).toBe(2);
    answer = value('key-1');
    expect(await secrets.read(ARN)).toMatchObject({ state: 'configured' });
    expect(await secrets.read(ARN)).toMatchObject({ state: 'configured' });
    expect(calls()).toBe(3);
  });

  it('keeps each secret apart: one that cannot be read does not affect another', async () => {
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:nutcache-other-XyZ123';
    sm.on(GetSecretValueCommand, { SecretId: other }).rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      }),
    );
    const secrets = new OrganizationSecrets({ client });
    await expect(secrets.read(other)).rejects.toBeInstanceOf(SecretUnavailableError);
    expect(await secrets.read(ARN)).toMatchObject({ state: 'configured' });
  });

  const failures: [string, Error, RegExp][] = [
    [
      'missing',
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      }),
      /does not exist.*ResourceNotFoundException/,
    ],
    [
      'not readable by the role',
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: `User: arn:aws:sts::123456789012:assumed-role/Poller/poller is not authorized to perform: secretsmanager:GetSecretValue on resource: ${ARN}`,
        $metadata: {},
      }),
      /secretsmanager:GetSecretValue.*AccessDeniedException/,
    ],
    [
      'encrypted with a KMS key the role may not use',
      new SecretsManagerServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: 'Access to KMS is not allowed',
        $metadata: {},
      }),
      /kms:Decrypt.*AccessDeniedException/,
    ],
    [
      'undecryptable',
      new DecryptionFailure({
        message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
        $metadata: {},
      }),
      /kms:Decrypt.*DecryptionFailure/,
    ],
    [
      'scheduled for deletion',
      new InvalidRequestException({
        message: "You can't perform this operation on the secret because it was marked for deletion.",
        $metadata: {},
      }),
      /refused.*InvalidRequestException: .*marked for deletion/,
    ],
  ];

  it.each(failures)(
    'fails with one line naming the secret and the cause when it is %s',
    async (_, error, cause) => {
      sm.on(GetSecretValueCommand).rejects(error);
      const failure = await new OrganizationSecrets({ client }).read(ARN).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(failure).toBeInstanceOf(SecretUnavailableError);
      expect(failure?.message).toContain(ARN);
      expect(failure?.message).toMatch(cause);
      expect(failure?.message).not.toContain('\n');
    },
  );

  it('fails for a malformed value, naming the secret and never a value', async () => {
    answer = '{"apiKey":"key-1","username":"ops@example.com","password":"pw-Secret-1"';
    const failure = await new OrganizationSecrets({ client }).read(ARN).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure).toBeInstanceOf(InvalidSecretError);
    expect(failure?.message).toContain(ARN);
    expect(failure?.message).not.toMatch(/key-1|pw-Secret-1/);
  });
});
