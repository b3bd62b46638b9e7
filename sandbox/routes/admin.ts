/**
 * The sandbox's admin endpoint (opt-in with `admin: true`; `nutcache-cdc sandbox` turns it on): change the
 * first organization's data and behaviour from outside, with curl, so a user sees their own `poll` report
 * Created, Updated and Deleted events without writing code. Outside `/webapi/`, without authentication
 * (the sandbox's data is sample data), not counted in the request statistics, never rate-limited.
 *
 *   GET    /admin/customers            the customers, as stored
 *   POST   /admin/customers            create one: {"name": "Acme", "email": "…"} (optional "id") → 201
 *   PATCH  /admin/customers/{id}       change fields: {"email": "new@acme.test"} → 200
 *   DELETE /admin/customers/{id}       delete it → 204
 *   PUT    /admin/key-casing           {"casing": "lower"} (documented, lower, upper, attribute-table,
 *                                      pascal, mixed): how record keys are spelled in answers
 *   POST   /admin/faults               inject a fault: {"kind": "status", "status": 500, "path": "customers",
 *                                      "times": 3} (kinds status, html, truncated, reset, delay) → 201
 *   DELETE /admin/faults               withdraw every fault → 204
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { jsonValueSchema } from '../../shared/customer.ts';
import type { FaultSpec } from '../faults.ts';
import { type Answer, HttpProblem, json, problemAnswer, readBody, write } from '../http.ts';
import type { SandboxState } from '../state.ts';

const PREFIX = '/admin/';

/** Whether the sandbox serves the admin endpoint and this request is for it. */
export function isAdminRequest(state: SandboxState, req: IncomingMessage): boolean {
  return state.options.admin === true && (req.url ?? '').startsWith(PREFIX);
}

export async function handleAdmin(
  state: SandboxState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let answer: Answer;
  try {
    answer = await route(state, req);
  } catch (error) {
    answer =
      error instanceof HttpProblem
        ? problemAnswer(error)
        : json(400, { message: error instanceof Error ? error.message : String(error) });
  }
  write(res, answer);
}

const NO_CONTENT: Answer = { status: 204, headers: {}, body: '' };

/** A JSON answer of sandbox records (plain data, serialised as they are). */
function records(status: number, value: unknown): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(value),
  };
}

async function route(state: SandboxState, req: IncomingMessage): Promise<Answer> {
  const method = (req.method ?? 'GET').toUpperCase();
  const path = new URL(req.url ?? '/', 'http://sandbox.invalid').pathname.replace(/\/+$/, '');
  const store = state.primary.store;
  if (path === '/admin/customers') {
    if (method === 'GET') return records(200, { customers: store.list() });
    allow(method, 'GET, POST');
    return records(201, store.create(await body(req, customerSchema)));
  }
  const one = /^\/admin\/customers\/(\d+)$/.exec(path);
  if (one) {
    const id = Number(one[1]);
    if (!store.get(id)) throw new HttpProblem(404, `no customer ${id}`);
    allow(method, 'PATCH, DELETE');
    if (method === 'PATCH') return records(200, store.update(id, await body(req, customerSchema)));
    store.remove(id);
    return NO_CONTENT;
  }
  if (path === '/admin/key-casing') {
    allow(method, 'PUT');
    state.settings.keyCasing = (await body(req, casingSchema)).casing;
    return json(200, { casing: state.settings.keyCasing });
  }
  if (path === '/admin/faults') {
    allow(method, 'POST, DELETE');
    if (method === 'DELETE') {
      state.faults.clear();
      return NO_CONTENT;
    }
    const spec = await body(req, faultSchema);
    state.faults.add(toFaultSpec(spec));
    return json(201, { injected: spec });
  }
  throw new HttpProblem(404, `no admin resource at ${path} (see sandbox/README.md)`);
}

function allow(method: string, allowed: string): void {
  if (!allowed.split(', ').includes(method)) {
    throw new HttpProblem(405, `${method} is not allowed here; use ${allowed}`, { allow: allowed });
  }
}

async function body<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const text = await readBody(req);
  let value: unknown;
  try {
    value = JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new HttpProblem(400, 'the body is not JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpProblem(400, `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const customerSchema = z.record(z.string(), jsonValueSchema);

const casingSchema = z.strictObject({
  casing: z.enum(['documented', 'lower', 'upper', 'attribute-table', 'pascal', 'mixed']),
});

const matchAndTrigger = {
  path: z.string().optional(),
  method: z.string().optional(),
  page: z.number().int().min(1).optional(),
  customerId: z.number().int().min(1).optional(),
  /** How many times it fires; "always" for every matching request (default 1). */
  times: z.union([z.number().int().min(1), z.literal('always')]).optional(),
  skip: z.number().int().min(0).optional(),
  probability: z.number().min(0).max(1).optional(),
};

const faultSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('status'),
    status: z.number().int().min(400).max(599),
    retryAfter: z.number().int().min(0).optional(),
    ...matchAndTrigger,
  }),
  z.strictObject({
    kind: z.literal('html'),
    status: z.number().int().min(200).max(599).optional(),
    ...matchAndTrigger,
  }),
  z.strictObject({
    kind: z.literal('truncated'),
    fraction: z.number().min(0).max(1).optional(),
    framing: z.enum(['complete', 'abort']).optional(),
    ...matchAndTrigger,
  }),
  z.strictObject({ kind: z.literal('reset'), ...matchAndTrigger }),
  z.strictObject({ kind: z.literal('delay'), ms: z.number().int().min(0).max(60_000), ...matchAndTrigger }),
]);

function toFaultSpec(spec: z.infer<typeof faultSchema>): FaultSpec {
  const { times, ...rest } = spec;
  return {
    ...rest,
    ...(times === undefined ? {} : { times: times === 'always' ? Number.POSITIVE_INFINITY : times }),
  };
}
