/**
 * Polls one configured organization: fetches its credentials, runs the engine, and, when Nutcache answers
 * 401, fetches the credentials again (bypassing caches: the secret may have been rotated) and polls once
 * more. Shared by the Lambda handler and the CLI; knows nothing of Lambda itself.
 */
import { type PollDependencies, type PollOptions, type PollResult, runPoll } from '../engine/poll.ts';
import { NutcacheAuthError } from '../nutcache/errors.ts';
import type { NutcacheSecret } from '../nutcache/secret.ts';
import type { CustomerSource } from '../nutcache/types.ts';

export interface PollerServiceDeps extends Omit<PollDependencies, 'source'> {
  /** The organization's credentials; `fresh` asks to bypass any cache. */
  getSecret(fresh: boolean): Promise<NutcacheSecret>;
  /** A Nutcache source for these credentials. */
  createSource(secret: NutcacheSecret): CustomerSource;
}

export class OrganizationMismatchError extends Error {
  constructor(expected: string, actual: string) {
    super(`the secret is for organization ${actual}, but the poll is for ${expected}`);
    this.name = 'OrganizationMismatchError';
  }
}

export async function pollWithCredentials(
  deps: PollerServiceDeps,
  options: PollOptions,
): Promise<PollResult> {
  const attempt = async (fresh: boolean): Promise<PollResult> => {
    const secret = await deps.getSecret(fresh);
    if (secret.organizationGuid.toUpperCase() !== options.organizationGuid.toUpperCase()) {
      throw new OrganizationMismatchError(options.organizationGuid, secret.organizationGuid);
    }
    return runPoll({ ...deps, source: deps.createSource(secret) }, options);
  };
  const first = await attempt(false);
  if (!(first.failure instanceof NutcacheAuthError)) return first;
  deps.log.warn('Nutcache rejected the credentials; fetching the secret again and retrying once', {
    organizationGuid: options.organizationGuid,
  });
  return attempt(true);
}
