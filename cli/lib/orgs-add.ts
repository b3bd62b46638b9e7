/**
 * The credentials side of `orgs add` and `orgs remove`: which credentials an organization gets (a local
 * file, a secret `add` creates, or an existing secret named with --secret-id), and removing what `add`
 * created.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CredentialsRef, RegisteredOrganization } from '../../shared/registry/model.ts';
import {
  createOrganizationSecret,
  credentialsFromEnv,
  deleteOrganizationSecret,
  readExistingSecret,
  removeCredentialsFile,
  writeCredentialsFile,
} from './org-credentials.ts';
import type { OrgsContext } from './orgs-context.ts';

export interface AddedCredentials {
  readonly ref: CredentialsRef;
  /** The API key (only to derive the group and budget id; never stored in the registry). */
  readonly apiKey: string;
  /** True when `add` created the secret (so `remove` deletes it). */
  readonly created: boolean;
}

export async function addCredentials(
  context: OrgsContext,
  guid: string,
  values: { 'secret-id'?: string; 'base-url'?: string },
): Promise<AddedCredentials> {
  const secretId = values['secret-id'];
  if (secretId) {
    const client = context.aws?.secrets ?? new SecretsManagerClient({});
    try {
      const { arn, secret } = await readExistingSecret(client, secretId);
      if (secret.organizationGuid.toUpperCase() !== guid) {
        throw new Error(`secret ${secretId} is for organization ${secret.organizationGuid}, not ${guid}`);
      }
      return { ref: { kind: 'secretsManager', secretArn: arn }, apiKey: secret.apiKey, created: false };
    } finally {
      if (!context.aws) client.destroy();
    }
  }
  const secret = credentialsFromEnv(guid, values['base-url']);
  if (!context.aws) {
    writeCredentialsFile(context.stateDir, secret);
    return { ref: { kind: 'localFile' }, apiKey: secret.apiKey, created: true };
  }
  const arn = await createOrganizationSecret(context.aws.secrets, context.aws.deployment, secret);
  return { ref: { kind: 'secretsManager', secretArn: arn }, apiKey: secret.apiKey, created: true };
}

/** Deletes the credentials `add` created for the organization (a referenced secret is left alone). */
export async function removeCreatedCredentials(
  context: OrgsContext,
  org: RegisteredOrganization,
): Promise<void> {
  if (org.credentials.kind === 'localFile') {
    removeCredentialsFile(context.stateDir, org.organizationGuid);
  } else if (org.createdSecret && context.aws) {
    await deleteOrganizationSecret(context.aws.secrets, org.credentials.secretArn);
  }
}
