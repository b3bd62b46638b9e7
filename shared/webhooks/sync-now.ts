/**
 * The inbound "sync now" webhook: `POST {"organizationGuid": "…", "mode": "poll" | "resync"}` signed with
 * Standard Webhooks. The signature is the authentication (the Lambda function URL has auth type NONE).
 *
 * Answers, in the order they are checked:
 * - 400 an event that is not a function URL request (no headers, no request context);
 * - 405 not POST; 413 body over 4 KiB;
 * - 401 missing or malformed signature headers, timestamp more than 5 minutes from our clock, bad signature;
 * - 400 `webhook-id` longer than 256 characters (Standard Webhooks ids are short, e.g. `msg_` + a ULID; the
 *   id becomes a DynamoDB key, whose limit is 2,048 bytes);
 * - 400 body not JSON / not the expected shape; 400 organization not registered (the registry);
 * - 409 organization paused (`nutcache-cdc orgs resume` first);
 * - 409 `webhook-id` already used (checked after the signature, so nobody can burn ids without the secret);
 * - 202 `{"runId", "organizationGuid", "mode"}` once the poll request is on the poll queue (in the
 *   organization's API-key group, so it waits for the polls sharing its key);
 * - 500 when the request could not be queued (the id is released so the sender's retry, same id, is accepted).
 * Nothing from the request is logged verbatim: only the outcome, sizes and, once the organization is known
 * to be ours, its guid.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { PollerInput } from '../config/env.ts';
import type { Log, MetricsSink } from '../ports.ts';
import type { RegisteredOrganization } from '../registry/model.ts';
import type { ReplayGuard } from './replay-guard.ts';
import { TIMESTAMP_TOLERANCE_SECONDS, type VerifyFailure, verifyWebhook } from './signing.ts';

export const MAX_SYNC_NOW_BODY_BYTES = 4096;
/** Longest `webhook-id` accepted (characters; at most 1 KiB of UTF-8, far below DynamoDB's 2 KiB key). */
export const MAX_WEBHOOK_ID_LENGTH = 256;
/** Claimed ids are kept 3 days: a Standard Webhooks sender's whole retry window. */
export const REPLAY_RETENTION_SECONDS = 3 * 24 * 3600;

export interface SyncNowRequest {
  readonly method: string;
  /** Header names in any case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

export interface SyncNowResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface SyncNowDeps {
  /** The inbound signing secrets (any may sign). */
  secrets(): Promise<readonly string[]>;
  readonly replay: ReplayGuard;
  /** The organization as registered (GUID in any case), or undefined when it is not. */
  findOrganization(organizationGuid: string): Promise<SyncNowOrganization | undefined>;
  /** Starts a poll or resync without waiting for it (a message on the poll queue). */
  startRun(input: PollerInput, organization: SyncNowOrganization): Promise<void>;
  now(): number;
  newRunId?(): string;
  readonly log: Log;
  readonly metrics?: MetricsSink;
}

/** What sync-now needs of a registered organization. */
export type SyncNowOrganization = Pick<RegisteredOrganization, 'organizationGuid' | 'state' | 'apiKeyGroup'>;

export const syncNowBodySchema = z.strictObject({
  organizationGuid: z.string().min(1).max(128),
  mode: z.enum(['poll', 'resync']),
});

const UNAUTHORIZED: Record<VerifyFailure, string> = {
  'missing-headers': 'missing webhook-id, webhook-timestamp or webhook-signature header',
  'bad-timestamp': 'webhook-timestamp is not a Unix time in seconds',
  'timestamp-out-of-tolerance': `webhook-timestamp is more than ${TIMESTAMP_TOLERANCE_SECONDS / 60} minutes from the server clock`,
  'bad-signature': 'no valid signature',
};

function reply(statusCode: number, body: Record<string, unknown>): SyncNowResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export async function handleSyncNow(request: SyncNowRequest, deps: SyncNowDeps): Promise<SyncNowResponse> {
  const { log } = deps;
  const bodyBytes = Buffer.byteLength(request.body);
  const reject = (statusCode: number, error: string, logged: Record<string, unknown> = {}) => {
    deps.metrics?.count(`SyncNowRejected${statusCode}`);
    log.warn('Sync-now request rejected', { statusCode, error, bodyBytes, ...logged });
    return reply(statusCode, { error });
  };

  if (request.method.toUpperCase() !== 'POST') return reject(405, 'use POST');
  if (bodyBytes > MAX_SYNC_NOW_BODY_BYTES) return reject(413, `body over ${MAX_SYNC_NOW_BODY_BYTES} bytes`);

  const nowMs = deps.now();
  const verified = verifyWebhook(request.body, request.headers, await deps.secrets(), nowMs);
  if (!verified.ok) return reject(401, UNAUTHORIZED[verified.reason]);
  if (verified.id.length > MAX_WEBHOOK_ID_LENGTH) {
    return reject(400, `webhook-id longer than ${MAX_WEBHOOK_ID_LENGTH} characters`, {
      idLength: verified.id.length,
    });
  }

  let json: unknown;
  try {
    json = JSON.parse(request.body);
  } catch {
    return reject(400, 'body is not valid JSON');
  }
  const parsed = syncNowBodySchema.safeParse(json);
  if (!parsed.success) {
    // zod's message for unrecognized keys names them: they come from the request, so they are neither
    // answered nor logged. Paths are safe: the strict schema reports issues only under its own keys.
    const issues = parsed.error.issues.map((i) => ({ code: i.code, path: i.path.map(String).join('.') }));
    const problems = parsed.error.issues.map(
      (i) =>
        `${i.path.map(String).join('.') || 'body'}: ${i.code === 'unrecognized_keys' ? 'unexpected field(s)' : i.message}`,
    );
    return reject(
      400,
      `expected {"organizationGuid": string, "mode": "poll" | "resync"}; ${problems.join('; ')}`,
      { issues },
    );
  }
  const { mode } = parsed.data;
  // GUIDs compare case-insensitively (the registry's lookup); the run gets the GUID as registered.
  const organization = await deps.findOrganization(parsed.data.organizationGuid);
  if (organization === undefined) {
    return reject(400, 'unknown organizationGuid: no organization of this deployment has that GUID');
  }
  const { organizationGuid } = organization;
  if (organization.state === 'paused') {
    return reject(409, 'organization is paused: resume it (nutcache-cdc orgs resume) before syncing it', {
      organizationGuid,
    });
  }

  const nowSeconds = Math.floor(nowMs / 1000);
  const fresh = await deps.replay.claim(verified.id, nowSeconds + REPLAY_RETENTION_SECONDS, nowSeconds);
  if (!fresh) return reject(409, 'webhook-id already used (replayed request)', { organizationGuid });

  const runId = deps.newRunId?.() ?? `sync-now-${randomUUID()}`;
  try {
    await deps.startRun({ organizationGuid, mode, pollId: runId }, organization);
  } catch (error) {
    await deps.replay.release(verified.id).catch(() => undefined);
    deps.metrics?.count('SyncNowStartFailed');
    log.error('Sync-now could not start the run', {
      organizationGuid,
      error: error instanceof Error ? error.name : 'unknown',
    });
    return reply(500, { error: 'could not start the run; retry later' });
  }
  deps.metrics?.count('SyncNowAccepted');
  log.info('Sync-now run started', { organizationGuid, mode, runId });
  return reply(202, { runId, organizationGuid, mode });
}

/** The parts of a Lambda function URL event (payload 2.0) that sync-now reads. */
const functionUrlEventSchema = z.object({
  requestContext: z.object({ http: z.object({ method: z.string() }) }),
  headers: z.record(z.string(), z.string().optional()),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

/** The request of a function URL event, or undefined when the event is not one. */
export function syncNowRequestFromEvent(event: unknown): SyncNowRequest | undefined {
  const parsed = functionUrlEventSchema.safeParse(event);
  if (!parsed.success) return undefined;
  const { requestContext, headers, body = '', isBase64Encoded } = parsed.data;
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  return { method: requestContext.http.method, headers, body: text };
}

/** `handleSyncNow` for a raw function URL event: a malformed event is a 400, never a throw. */
export async function handleSyncNowEvent(event: unknown, deps: SyncNowDeps): Promise<SyncNowResponse> {
  const request = syncNowRequestFromEvent(event);
  if (request) return handleSyncNow(request, deps);
  deps.metrics?.count('SyncNowRejected400');
  deps.log.warn('Sync-now request rejected', { statusCode: 400, error: 'malformed event' });
  return reply(400, { error: 'not a function URL request: method, headers or body missing' });
}
