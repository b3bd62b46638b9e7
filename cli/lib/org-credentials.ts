/**
 * Where `nutcache-cdc orgs` keeps an organization's Nutcache credentials: in local mode a file
 * `<state-dir>/credentials/<GUID>.json` readable only by the user (0600, in a 0700 directory); in AWS mode
 * a Secrets Manager secret `<secretNamePrefix><GUID>` tagged with the deployment's tag. The credentials
 * come from NUTCACHE_API_KEY, NUTCACHE_USERNAME and NUTCACHE_PASSWORD, never from a command-line argument.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  type NutcacheSecret,
  parseNutcacheSecret,
  readNutcacheSecret,
  type SecretReading,
} from '../../shared/nutcache/secret.ts';
import { type DeploymentRecord, organizationSecretName } from '../../shared/registry/deployment.ts';

export const CREDENTIAL_ENV = {
  apiKey: 'NUTCACHE_API_KEY',
  username: 'NUTCACHE_USERNAME',
  password: 'NUTCACHE_PASSWORD',
} as const;

/** The credentials of the environment for `organizationGuid`; throws naming the variables missing. */
export function credentialsFromEnv(
  organizationGuid: string,
  baseUrl: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): NutcacheSecret {
  const missing = Object.values(CREDENTIAL_ENV).filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new Error(`Nutcache credentials missing: set ${missing.join(', ')} (or use --secret-id)`);
  }
  return parseNutcacheSecret(
    {
      apiKey: env[CREDENTIAL_ENV.apiKey],
      username: env[CREDENTIAL_ENV.username],
      password: env[CREDENTIAL_ENV.password],
      organizationGuid,
      ...(baseUrl ? { baseUrl } : {}),
    },
    'the NUTCACHE_* environment variables',
  );
}

export function credentialsFile(stateDir: string, organizationGuid: string): string {
  return join(stateDir, 'credentials', `${organizationGuid.toUpperCase()}.json`);
}

/** Writes the credentials file, readable and writable by the user only. */
export function writeCredentialsFile(stateDir: string, secret: NutcacheSecret): string {
  const dir = join(stateDir, 'credentials');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = credentialsFile(stateDir, secret.organizationGuid);
  writeFileSync(file, `${JSON.stringify(secret, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export function removeCredentialsFile(stateDir: string, organizationGuid: string): void {
  rmSync(credentialsFile(stateDir, organizationGuid), { force: true });
}

/**
 * Reads a credentials file like a secret (`poll --all` in local mode); a missing or unreadable file
 * fails with one line naming it.
 */
export function readCredentialsFile(file: string): SecretReading {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(
      `credentials file ${file} could not be read (${code}): run 'nutcache-cdc orgs add' again`,
    );
  }
  return readNutcacheSecret(text, file);
}

/** Creates the organization's secret in the deployment's naming and tag; returns its ARN. */
export async function createOrganizationSecret(
  client: SecretsManagerClient,
  deployment: DeploymentRecord,
  secret: NutcacheSecret,
): Promise<string> {
  const out = await client.send(
    new CreateSecretCommand({
      Name: organizationSecretName(deployment, secret.organizationGuid),
      Description: `Nutcache credentials of organization ${secret.organizationGuid} (nutcache-cdc orgs add)`,
      SecretString: JSON.stringify(secret),
      Tags: [{ Key: deployment.secretTag.key, Value: deployment.secretTag.value }],
    }),
  );
  if (!out.ARN) throw new Error('Secrets Manager created the secret but returned no ARN');
  return out.ARN;
}

/**
 * Deletes a secret `orgs add` created, at once (no recovery window), so the same organization can be
 * added again; the credentials are Nutcache's and can be entered again.
 */
export async function deleteOrganizationSecret(
  client: SecretsManagerClient,
  secretArn: string,
): Promise<void> {
  await client.send(new DeleteSecretCommand({ SecretId: secretArn, ForceDeleteWithoutRecovery: true }));
}

/** Reads an existing secret (`--secret-id`): its full ARN and its credentials. */
export async function readExistingSecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<{ arn: string; secret: NutcacheSecret }> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  return { arn: out.ARN ?? secretId, secret: parseNutcacheSecret(out.SecretString, secretId) };
}
