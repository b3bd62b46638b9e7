/**
 * The Secrets Manager secret of one organization: `{"apiKey","username","password","organizationGuid",
 * "baseUrl"?,"authScheme"?}`. Parsed with a schema; errors name the fields at fault, never their values.
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

/** Parses a secret value (JSON text or an already parsed object). */
export function parseNutcacheSecret(value: unknown, secretName: string): NutcacheSecret {
  let data = value;
  if (typeof value === 'string') {
    try {
      data = JSON.parse(value);
    } catch {
      throw new InvalidSecretError(secretName, 'the value is not JSON');
    }
  }
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
