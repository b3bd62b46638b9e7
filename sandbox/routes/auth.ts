/** Authentication (nut-basic and bearer), the api-version header and the per-API-key rate limits. */
import type { IncomingMessage } from 'node:http';
import { API_VERSION, type SandboxCredentials } from '../api.ts';
import { HttpProblem } from '../http.ts';
import type { SandboxState } from '../state.ts';

/** The user with these credentials (user name case-insensitive), if any. */
export function findUser(
  users: readonly SandboxCredentials[],
  apiKey: string,
  username: string,
  password: string,
): SandboxCredentials | undefined {
  return users.find(
    (u) =>
      u.apiKey === apiKey && u.username.toLowerCase() === username.toLowerCase() && u.password === password,
  );
}

function denied(detail: string, scheme: string): HttpProblem {
  return new HttpProblem(401, `Authorization has been denied for this request: ${detail}.`, {
    'www-authenticate': scheme,
  });
}

/** `nut-basic base64(apikey:username:password)`: the API key, or an HttpProblem(401). */
function authenticateBasic(state: SandboxState, value: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw denied('credentials are not base64', 'nut-basic');
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const first = decoded.indexOf(':');
  const second = first < 0 ? -1 : decoded.indexOf(':', first + 1);
  if (second < 0) throw denied('credentials must be apikey:username:password', 'nut-basic');
  const user = findUser(
    state.users,
    decoded.slice(0, first),
    decoded.slice(first + 1, second),
    decoded.slice(second + 1),
  );
  if (!user) throw denied('invalid credentials', 'nut-basic');
  return user.apiKey;
}

/** `Bearer <token>`: the API key the token was issued for, or an HttpProblem(401). */
function authenticateBearer(state: SandboxState, value: string): string {
  const token = state.tokens.get(value);
  const invalid = 'Bearer error="invalid_token"';
  if (!token) throw denied('unknown token', invalid);
  if (token.revoked) throw denied('token revoked', invalid);
  if (state.clock.now() >= token.expiresAt) throw denied('token expired', invalid);
  return token.apiKey;
}

/** The API key of an authenticated request, or an HttpProblem(401). */
export function authenticate(state: SandboxState, header: string | undefined): string {
  if (!header) throw denied('no Authorization header', 'nut-basic');
  const match = /^\s*([A-Za-z-]+)\s+(\S+)\s*$/.exec(header);
  if (!match) throw denied('malformed Authorization header', 'nut-basic');
  const scheme = (match[1] ?? '').toLowerCase();
  const value = match[2] ?? '';
  if (scheme === 'nut-basic') return authenticateBasic(state, value);
  if (scheme === 'bearer') return authenticateBearer(state, value);
  throw denied(`unsupported scheme '${match[1] ?? ''}'`, 'nut-basic');
}

/** Counts the request against the key's limits; an HttpProblem(429) with Retry-After when over. */
export function enforceRateLimit(state: SandboxState, apiKey: string): void {
  const decision = state.limiter.check(apiKey, state.clock.now());
  if (decision.allowed) return;
  state.counters.rateLimitViolations++;
  const limit = decision.window === 'second' ? 'second' : decision.window === 'minute' ? 'minute' : 'day';
  throw new HttpProblem(429, `API calls quota exceeded! Too many requests per ${limit}.`, {
    'retry-after': String(decision.retryAfterSeconds),
  });
}

export function requireApiVersion(req: IncomingMessage): void {
  const v = req.headers['api-version'];
  if (v === undefined || v === '') throw new HttpProblem(400, 'The api-version header is required.');
  if (Array.isArray(v) || v.trim() !== API_VERSION) {
    throw new HttpProblem(400, `api-version ${JSON.stringify(v)} is not supported; use ${API_VERSION}.`);
  }
}
