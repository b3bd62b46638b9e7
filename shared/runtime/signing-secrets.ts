/**
 * The middy middleware that puts a Standard Webhooks signing secret on the Lambda context (the webhook
 * delivery and "sync now" functions): read from Secrets Manager and re-read every 5 minutes, so a rotation
 * (a second secret added) is picked up.
 */
import secretsManager from '@middy/secrets-manager';

/** How long a signing secret is cached before Secrets Manager is read again. */
export const SIGNING_SECRET_CACHE_MS = 5 * 60 * 1000;

/** Sets `context[key]` to the secret `secretArn` holds. */
export function signingSecretOnContext(key: string, secretArn: string) {
  return secretsManager({
    fetchData: { [key]: secretArn },
    setToContext: true,
    cacheExpiry: SIGNING_SECRET_CACHE_MS,
  });
}
