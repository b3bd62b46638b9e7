/**
 * One organization's Nutcache secret, read from Secrets Manager when a poll of that organization needs it
 * (never the other organizations' secrets), through Powertools' SecretsProvider: cached for 5 minutes, so
 * a rotated value is used within 5 minutes, and read again at once when the caller asks (after Nutcache
 * answers 401). An unconfigured secret is read again on every poll, so filling it in takes effect at the
 * next poll. A secret that cannot be read fails with a one-line error naming it and the cause, never a
 * credential.
 */
import { GetParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readNutcacheSecret, type SecretReading } from '../nutcache/secret.ts';
import { clip, oneLine } from '../util/one-line.ts';

export const SECRET_MAX_AGE_SECONDS = 5 * 60;
/** Longest AWS error message shown in a SecretUnavailableError. */
const MESSAGE_LENGTH = 300;

export class SecretUnavailableError extends Error {
  constructor(
    readonly secretArn: string,
    readonly reason: string,
  ) {
    super(`secret ${secretArn} could not be read: ${reason}`);
    this.name = 'SecretUnavailableError';
  }
}

export interface OrganizationSecretsOptions {
  /** The Secrets Manager client (module scope in a Lambda function, so it is reused and fakeable). */
  readonly client: SecretsManagerClient;
  /** @default 300 */
  readonly maxAgeSeconds?: number;
}

export class OrganizationSecrets {
  private readonly provider: SecretsProvider;
  private readonly maxAgeSeconds: number;
  /** Secrets last read unconfigured: read again, bypassing the cache, until they are filled in. */
  private readonly unconfigured = new Set<string>();

  constructor(options: OrganizationSecretsOptions) {
    this.provider = new SecretsProvider({ awsSdkV3Client: options.client });
    this.maxAgeSeconds = options.maxAgeSeconds ?? SECRET_MAX_AGE_SECONDS;
  }

  /**
   * The secret's credentials, or `unconfigured`. Throws `SecretUnavailableError` when Secrets Manager
   * does not give the value, `InvalidSecretError` when the value is malformed or partly filled.
   */
  async read(secretArn: string, options: { fresh?: boolean } = {}): Promise<SecretReading> {
    const forceFetch = options.fresh === true || this.unconfigured.has(secretArn);
    let value: unknown;
    try {
      value = await this.provider.get(secretArn, { maxAge: this.maxAgeSeconds, forceFetch });
    } catch (error) {
      throw new SecretUnavailableError(secretArn, describeFailure(error));
    }
    if (value === undefined) throw new SecretUnavailableError(secretArn, 'it has no value');
    const reading = readNutcacheSecret(value, secretArn);
    if (reading.state === 'unconfigured') this.unconfigured.add(secretArn);
    else this.unconfigured.delete(secretArn);
    return reading;
  }
}

const HINTS: Readonly<Record<string, string>> = {
  ResourceNotFoundException:
    'it does not exist (check the ARN and region in the configuration, or restore the secret)',
  AccessDeniedException: "the poller's role may not call secretsmanager:GetSecretValue on it",
  DecryptionFailure: "its KMS key does not let the poller's role decrypt it (kms:Decrypt)",
  InvalidRequestException: 'Secrets Manager refused the request',
};

/** What went wrong, in one line: a hint for the usual causes, then the AWS error's name and message. */
function describeFailure(error: unknown): string {
  const cause = error instanceof GetParameterError && error.cause instanceof Error ? error.cause : error;
  const name = cause instanceof Error ? cause.name : 'Error';
  const message = clip(
    oneLine(cause instanceof Error ? cause.message : String(cause)).trim(),
    MESSAGE_LENGTH,
  );
  const kms = name === 'AccessDeniedException' && /\bKMS\b/i.test(message);
  const hint = kms ? HINTS.DecryptionFailure : (HINTS[name] ?? 'Secrets Manager answered an error');
  return `${hint} (${name}: ${message})`;
}
