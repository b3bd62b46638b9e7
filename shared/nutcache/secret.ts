/**
 * The Secrets Manager secret of one organization: `{"apiKey","username","password","organizationGuid",
 * "baseUrl"?,"authScheme"?}`. Parsed with a schema; errors name the fields at fault, never their values.
 * A secret whose three credential fields are all empty is not an error but `unconfigured` (see
 * `readNutcacheSecret`).
 */
import { z } from 'zod';
import type { NutcacheClientConfig } from './client.ts';

export const nutcacheSecretSchema = z.object({
  apiKey: z.string().min(1),
  username: z.string().min(1),
  password: z.string().min(1),
  organizationGuid: z.string().min(1),
  baseUrl: z.url().optional(),
  authScheme: z.enum(['nut-basic', 'bearer']).optional(),
});

export type NutcacheSecret = z.infer<typeof nutcacheSecretSchema>;

export class InvalidSecretError extends Error {
  constructor(secretName: string, problems: string) {
    super(`secret ${secretName} is not a valid Nutcache credential: ${problems}`);
    this.name = 'InvalidSecretError';
  }
}

/** The credential fields a user fills in; the stack creates the secret with all three empty. */
export const CREDENTIAL_FIELDS = ['apiKey', 'username', 'password'] as const;

/**
 * What a secret holds: credentials, or nothing yet. A secret is **unconfigured** when all three credential
 * fields are empty (or only white space) or missing, as the stack creates it; anything else must be a
 * complete, valid credential.
 */
export type SecretReading =
  | { readonly state: 'configured'; readonly secret: NutcacheSecret }
  | { readonly state: 'unconfigured' };

/**
 * Reads a secret value (JSON text or an already parsed object). Throws `InvalidSecretError` for a value
 * that is not a JSON object, a partly filled one (naming the empty fields) or an invalid one.
 */
export function readNutcacheSecret(value: unknown, secretName: string): SecretReading {
  const data = parseJson(value, secretName);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidSecretError(secretName, 'the value is not a JSON object');
  }
  const fields = data as Record<string, unknown>;
  const unset = CREDENTIAL_FIELDS.filter((f) => typeof fields[f] !== 'string' || !String(fields[f]).trim());
  if (unset.length === CREDENTIAL_FIELDS.length) return { state: 'unconfigured' };
  if (unset.length > 0) {
    throw new InvalidSecretError(
      secretName,
      `${unset.join(', ')} ${unset.length === 1 ? 'is' : 'are'} empty or missing; fill in all of ${CREDENTIAL_FIELDS.join(', ')}`,
    );
  }
  return { state: 'configured', secret: validate(fields, secretName) };
}

/** Parses a secret value that must hold credentials (an unconfigured one is an error, saying so). */
export function parseNutcacheSecret(value: unknown, secretName: string): NutcacheSecret {
  const reading = readNutcacheSecret(value, secretName);
  if (reading.state === 'unconfigured') {
    throw new InvalidSecretError(
      secretName,
      `it is not filled in yet (${CREDENTIAL_FIELDS.join(', ')} are empty); put the credentials in it first (docs/deploy.md)`,
    );
  }
  return reading.secret;
}

function parseJson(value: unknown, secretName: string): unknown {
  if (value instanceof Uint8Array) return parseJson(new TextDecoder().decode(value), secretName);
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidSecretError(secretName, 'the value is not JSON');
  }
}

function validate(data: unknown, secretName: string): NutcacheSecret {
  const parsed = nutcacheSecretSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map(
        (issue) =>
          `${issue.path.join('.') || '(root)'}: ${issue.code === 'invalid_type' ? 'missing or not a string' : issue.message}`,
      )
      .join('; ');
    throw new InvalidSecretError(secretName, problems);
  }
  return parsed.data;
}

/** Client configuration from a secret (the rest of the options come from the caller). */
export function clientConfigFromSecret(
  secret: NutcacheSecret,
): Pick<NutcacheClientConfig, 'credentials' | 'organizationGuid' | 'authScheme' | 'baseUrl'> {
  return {
    credentials: { apiKey: secret.apiKey, username: secret.username, password: secret.password },
    organizationGuid: secret.organizationGuid,
    ...(secret.authScheme ? { authScheme: secret.authScheme } : {}),
    ...(secret.baseUrl ? { baseUrl: secret.baseUrl } : {}),
  };
}
