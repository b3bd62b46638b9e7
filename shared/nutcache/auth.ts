/**
 * Authorization for Nutcache: `nut-basic` (base64 of "apiKey:username:password" on every request) or
 * `bearer` (an OAuth2 password-grant token from `POST token`, cached until shortly before it expires and
 * fetched again once when Nutcache answers 401).
 */
import { z } from 'zod';
import type { Clock } from '../ports.ts';

export type AuthScheme = 'nut-basic' | 'bearer';

export interface NutcacheCredentials {
  readonly apiKey: string;
  readonly username: string;
  readonly password: string;
}

/** The nut-basic token: base64("apiKey:username:password"). */
export function nutBasicToken(credentials: NutcacheCredentials): string {
  const { apiKey, username, password } = credentials;
  return Buffer.from(`${apiKey}:${username}:${password}`, 'utf8').toString('base64');
}

/** The form body of the password grant (`application/x-www-form-urlencoded`). */
export function tokenRequestBody(credentials: NutcacheCredentials): string {
  return new URLSearchParams({
    grant_type: 'password',
    username: credentials.username,
    password: credentials.password,
    api_key: credentials.apiKey,
  }).toString();
}

/** The token answer; `expires_in` in seconds (Nutcache documents about 14 days). */
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z
    .string()
    .refine((t) => t.toLowerCase() === 'bearer', { message: 'token_type must be "bearer"' })
    .optional(),
  expires_in: z.coerce.number().positive().finite(),
});

export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/**
 * Every credential text that must never appear in a log line or error message (the redactor derives their
 * other spellings: shared/nutcache/redact.ts).
 */
export function credentialSecrets(credentials: NutcacheCredentials): string[] {
  const { apiKey, username, password } = credentials;
  return [apiKey, username, password, nutBasicToken(credentials)].filter((s) => s.length > 0);
}

/**
 * Caches one bearer token. `get()` returns the cached token or fetches one (concurrent callers share one
 * fetch); the token is considered stale `refreshMarginMs` before it expires (at most a tenth of its
 * lifetime). `invalidate(token)` drops it after a 401, unless another caller already replaced it.
 */
export class BearerTokenCache {
  private token: { value: string; staleAt: number } | undefined;
  private inFlight: Promise<string> | undefined;

  constructor(
    private readonly fetchToken: () => Promise<TokenResponse>,
    private readonly clock: Clock,
    private readonly refreshMarginMs = 60_000,
  ) {}

  /** The current token, if any (for redaction). */
  get current(): string | undefined {
    return this.token?.value;
  }

  async get(): Promise<string> {
    if (this.token && this.clock.now() < this.token.staleAt) return this.token.value;
    if (!this.inFlight) {
      this.inFlight = this.refresh().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  invalidate(token: string): void {
    if (this.token?.value === token) this.token = undefined;
  }

  private async refresh(): Promise<string> {
    const startedAt = this.clock.now();
    const answer = await this.fetchToken();
    const lifetimeMs = answer.expires_in * 1000;
    const margin = Math.min(this.refreshMarginMs, lifetimeMs / 10);
    this.token = { value: answer.access_token, staleAt: startedAt + lifetimeMs - margin };
    return answer.access_token;
  }
}
