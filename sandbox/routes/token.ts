/** The OAuth2 password-grant token endpoint (`POST /webapi/token`). */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { type Answer, HttpProblem, json, readBody } from '../http.ts';
import type { SandboxState } from '../state.ts';
import { findUser } from './auth.ts';

const tokenForm = z.object({
  grant_type: z.string(),
  username: z.string().min(1),
  password: z.string().min(1),
  api_key: z.string().min(1),
});

function invalid(error: string, description: string): HttpProblem {
  return new HttpProblem(400, description, {}, error);
}

/** Validates a password-grant form; returns the API key. Errors mirror OWIN's token endpoint (400). */
export async function tokenRequest(state: SandboxState, req: IncomingMessage): Promise<string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const body = await readBody(req);
  if (type !== 'application/x-www-form-urlencoded') {
    throw invalid('invalid_request', 'The request must be application/x-www-form-urlencoded.');
  }
  const form = tokenForm.safeParse(Object.fromEntries(new URLSearchParams(body)));
  if (!form.success)
    throw invalid('invalid_request', 'grant_type, username, password and api_key are required.');
  if (form.data.grant_type !== 'password')
    throw invalid('unsupported_grant_type', 'Only grant_type=password is supported.');
  const user = findUser(state.users, form.data.api_key, form.data.username, form.data.password);
  // OWIN (behind Nutcache's /token) answers a bad user name, password or key with 400 invalid_grant.
  if (!user) throw invalid('invalid_grant', 'The user name or password is incorrect.');
  return user.apiKey;
}

export function issueToken(state: SandboxState, apiKey: string): Answer {
  const token = randomBytes(32).toString('base64url');
  const expiresIn = state.settings.tokenExpiresIn;
  state.tokens.set(token, { apiKey, expiresAt: state.clock.now() + expiresIn * 1000, revoked: false });
  state.counters.tokensIssued++;
  return json(200, { access_token: token, token_type: 'bearer', expires_in: expiresIn });
}
