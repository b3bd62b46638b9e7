/**
 * Standard Webhooks 1.0 signing and verification (https://www.standardwebhooks.com/), on top of the
 * `standardwebhooks` library's HMAC. Signing accepts several secrets at once (rotation: the receiver accepts
 * any `v1,` entry of `webhook-signature`); verification takes the time from an injected clock, which the
 * library's own `verify` cannot (it reads `Date.now()`).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Receivers reject timestamps further than this from their clock (Standard Webhooks: 5 minutes). */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

export type WebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A `whsec_<base64>` secret of 24 to 64 bytes (the prefix may be left out, as Secrets Manager's generated
 * 32-character alphanumeric passwords are valid base64 of 24 bytes). Normalised to the `whsec_` form. Its
 * value never appears in an error message.
 */
export const webhookSecretSchema = z
  .string()
  .superRefine((value, ctx) => {
    const body = value.startsWith(WEBHOOK_SECRET_PREFIX) ? value.slice(WEBHOOK_SECRET_PREFIX.length) : value;
    if (!BASE64.test(body) || body.length % 4 !== 0) {
      ctx.addIssue({ code: 'custom', message: 'a webhook secret is "whsec_" followed by base64' });
      return;
    }
    const bytes = Buffer.from(body, 'base64').length;
    if (bytes < 24 || bytes > 64) {
      ctx.addIssue({
        code: 'custom',
        message: `a webhook secret holds 24 to 64 bytes (this one holds ${bytes})`,
      });
    }
  })
  .transform((value) =>
    value.startsWith(WEBHOOK_SECRET_PREFIX) ? value : `${WEBHOOK_SECRET_PREFIX}${value}`,
  );

/**
 * The Secrets Manager value of a webhook secret: `{"secrets": ["whsec_…", …]}` (first one current, the
 * others still accepted/signed during a rotation), or a bare `"whsec_…"` string.
 */
export const signingSecretsSchema = z.union([
  webhookSecretSchema.transform((s) => [s]),
  z.strictObject({ secrets: z.array(webhookSecretSchema).min(1).max(5) }).transform((v) => v.secrets),
]);

/** Parses a secret value (string or already-parsed JSON). Throws an error that never includes the secret. */
export function parseSigningSecrets(value: unknown): string[] {
  let input = value;
  if (typeof value === 'string' && value.trimStart().startsWith('{')) {
    try {
      input = JSON.parse(value);
    } catch {
      throw new Error('webhook secret: the secret value is neither "whsec_…" nor JSON');
    }
  }
  const parsed = signingSecretsSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(
      'webhook secret: expected {"secrets": ["whsec_…"]} (1 to 5 secrets of 24 to 64 bytes) or a bare "whsec_…" string',
    );
  }
  return parsed.data;
}

/** Generates a fresh `whsec_` secret (32 random bytes). */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The Standard Webhooks headers for one message, signed with every given secret. */
export function signWebhook(
  id: string,
  timestampMs: number,
  body: string,
  secrets: readonly string[],
): WebhookHeaders {
  if (secrets.length === 0) throw new Error('webhook signing needs at least one secret');
  const at = new Date(Math.floor(timestampMs / 1000) * 1000);
  const signatures = secrets.map((secret) => new Webhook(secret).sign(id, at, body));
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestampMs / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

export type VerifyFailure =
  | 'missing-headers'
  | 'bad-timestamp'
  | 'timestamp-out-of-tolerance'
  | 'bad-signature';
export type VerifyResult =
  | { readonly ok: true; readonly id: string; readonly timestamp: number }
  | { readonly ok: false; readonly reason: VerifyFailure };

function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * Verifies a signed request: required headers, timestamp within ±tolerance of `nowMs`, and at least one
 * `v1,` signature made by one of `secrets` over `{id}.{timestamp}.{body}` (constant-time comparison).
 */
export function verifyWebhook(
  body: string,
  headers: Readonly<Record<string, string | undefined>>,
  secrets: readonly string[],
  nowMs: number,
  toleranceSeconds = TIMESTAMP_TOLERANCE_SECONDS,
): VerifyResult {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signature = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signature) return { ok: false, reason: 'missing-headers' };
  if (!/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: 'bad-timestamp' };
  const timestamp = Number(timestampText);
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSeconds) {
    return { ok: false, reason: 'timestamp-out-of-tolerance' };
  }
  const offered = signature
    .split(' ')
    .map((entry) => entry.split(','))
    .filter((parts): parts is [string, string] => parts.length === 2 && parts[0] === 'v1')
    .map(([, sig]) => Buffer.from(sig));
  for (const secret of secrets) {
    const expected = Buffer.from(new Webhook(secret).sign(id, new Date(timestamp * 1000), body).slice(3));
    for (const candidate of offered) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) {
        return { ok: true, id, timestamp };
      }
    }
  }
  return { ok: false, reason: 'bad-signature' };
}
