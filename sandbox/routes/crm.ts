/**
 * A small CRM stand-in served by the sandbox, so the demo and the tests can watch Nutcache customers appear
 * and change in a "CRM" without an account at HubSpot or Salesforce. It keeps records in memory and answers
 * the two upserts CRM sync rules send, with each CRM's rules where they matter to a sync:
 *
 * - HubSpot-like, under `/hubspot`: `POST /crm/v3/objects/{object}/batch/upsert` with
 *   `{"inputs":[{"idProperty", "id", "properties"}]}` (1 to 100 inputs). Values are kept as strings (a
 *   number or boolean is stored as its text, as HubSpot does); "" clears a property, and so does null (an
 *   input transformer cannot turn a Nutcache null into "": docs/sync-rules.md, "CRM targets").
 * - Salesforce-like, under `/salesforce`: `PATCH /services/data/v62.0/sobjects/{object}/{field}/{value}`
 *   with the fields as a JSON object of scalars; `null` (or "", as Salesforce stores empty text as null)
 *   clears a field; the body may not name the external
 *   id field. 201 when the record was created, 200 when updated.
 * Both want `Authorization: Bearer <token>` with the stand-in's token (401 otherwise) and a JSON body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonValue } from '../../shared/customer.ts';
import { type Answer, HttpProblem, json, readBody, write } from '../http.ts';

export const CRM_TOKENS = { hubspot: 'pat-sandbox-hubspot', salesforce: '00Dsandbox!salesforce' } as const;

/** One CRM record: its upsert key's value and its non-empty properties. */
export interface CrmRecord {
  readonly key: string;
  readonly properties: Readonly<Record<string, string | number | boolean>>;
}

/** One request the stand-in answered. */
export interface CrmRequestLogEntry {
  readonly crm: 'hubspot' | 'salesforce';
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The stand-in's answer. */
  readonly answer: string;
}

/** The CRM side of a running sandbox. */
export interface CrmStandIn {
  /** `baseUrl` of a HubSpot target. */
  readonly hubspotUrl: string;
  /** `instanceUrl` of a Salesforce target. */
  readonly salesforceUrl: string;
  readonly tokens: { readonly hubspot: string; readonly salesforce: string };
  /** The records of a HubSpot object type, by their idProperty value. */
  hubspot(object: string): CrmRecord[];
  /** The records of a Salesforce object, by their external id. */
  salesforce(object: string): CrmRecord[];
  readonly requests: readonly CrmRequestLogEntry[];
}

type Store = Map<string, Map<string, Record<string, string | number | boolean>>>;

export interface CrmState {
  readonly hubspot: Store;
  readonly salesforce: Store;
  readonly requests: CrmRequestLogEntry[];
}

export function createCrmState(): CrmState {
  return { hubspot: new Map(), salesforce: new Map(), requests: [] };
}

function recordsOf(store: Store, object: string): CrmRecord[] {
  return [...(store.get(object) ?? new Map()).entries()]
    .map(([key, properties]) => ({ key, properties: { ...properties } }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function crmStandIn(state: CrmState, origin: string): CrmStandIn {
  return {
    hubspotUrl: `${origin}/hubspot`,
    salesforceUrl: `${origin}/salesforce`,
    tokens: CRM_TOKENS,
    hubspot: (object) => recordsOf(state.hubspot, object),
    salesforce: (object) => recordsOf(state.salesforce, object),
    get requests() {
      return state.requests;
    },
  };
}

/** True when the path is the stand-in's (served by `handleCrmRequest`, not by the Nutcache API). */
export function isCrmPath(url: string | undefined): boolean {
  return /^\/(hubspot|salesforce)(\/|$)/.test(url ?? '');
}

function requireBearer(req: IncomingMessage, token: string, crm: 'hubspot' | 'salesforce'): void {
  if (req.headers.authorization === `Bearer ${token}`) return;
  throw new HttpProblem(
    401,
    crm === 'hubspot'
      ? 'Authentication credentials not found.'
      : 'INVALID_SESSION_ID: Session expired or invalid',
  );
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpProblem(415, 'Content-Type must be application/json.');
  }
  const text = await readBody(req);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpProblem(400, `Invalid input JSON: ${text.slice(0, 200)}`);
  }
}

function recordIn(store: Store, object: string, key: string) {
  let records = store.get(object);
  if (!records) {
    records = new Map();
    store.set(object, records);
  }
  const existing = records.get(key);
  const record = existing ?? {};
  if (!existing) records.set(key, record);
  return { record, created: !existing };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface HubSpotInput {
  readonly idProperty: string;
  readonly id: string;
  readonly properties: Readonly<Record<string, string | number | boolean | null>>;
}

/** Checks a batch upsert body as HubSpot would (string ids, scalar values, 1 to 100 inputs). */
function hubspotInputs(body: unknown): HubSpotInput[] {
  const inputs = isObject(body) ? body.inputs : undefined;
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100) {
    throw new HttpProblem(400, 'inputs must be a list of 1 to 100 objects');
  }
  return inputs.map((input, index) => {
    if (!isObject(input) || typeof input.idProperty !== 'string' || typeof input.id !== 'string') {
      throw new HttpProblem(400, `inputs[${index}]: idProperty and id must be strings`);
    }
    if (input.id === '') throw new HttpProblem(400, `inputs[${index}].id: must not be empty`);
    if (!isObject(input.properties)) throw new HttpProblem(400, `inputs[${index}].properties: an object`);
    for (const [name, value] of Object.entries(input.properties)) {
      if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
        throw new HttpProblem(
          400,
          `Property values were not valid: inputs[${index}].properties.${name} is ${JSON.stringify(value)}`,
        );
      }
    }
    return input as unknown as HubSpotInput;
  });
}

function hubspotUpsert(state: CrmState, object: string, body: unknown): Answer {
  const results = hubspotInputs(body).map((input) => {
    const { record, created } = recordIn(state.hubspot, object, input.id);
    record[input.idProperty] = input.id;
    for (const [name, value] of Object.entries(input.properties)) {
      if (name === input.idProperty) continue;
      if (value === '' || value === null) delete record[name];
      else record[name] = String(value);
    }
    return { id: input.id, new: created, properties: { ...record } };
  });
  return json(200, { status: 'COMPLETE', results });
}

function salesforceUpsert(
  state: CrmState,
  object: string,
  field: string,
  key: string,
  body: unknown,
): Answer {
  if (!isObject(body)) throw new HttpProblem(400, 'JSON_PARSER_ERROR: the body must be a JSON object');
  const entries = Object.entries(body);
  for (const [name, value] of entries) {
    if (name.toLowerCase() === field.toLowerCase()) {
      throw new HttpProblem(400, `INVALID_FIELD: ${name} is the external id field of this upsert`);
    }
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      throw new HttpProblem(400, `JSON_PARSER_ERROR: ${name} must be a scalar`);
    }
  }
  const { record, created } = recordIn(state.salesforce, object, key);
  record[field] = key;
  for (const [name, value] of entries) {
    // Salesforce stores an empty text value as null: both clear the field.
    if (value === null || value === '') delete record[name];
    else record[name] = value as string | number | boolean;
  }
  const id = `001${key.padStart(15, '0')}`;
  return json(created ? 201 : 200, { id, success: true, errors: [], created });
}

const HUBSPOT_ROUTE = /^\/hubspot\/crm\/v3\/objects\/([^/]+)\/batch\/upsert$/;
const SALESFORCE_ROUTE = /^\/salesforce\/services\/data\/v62\.0\/sobjects\/([^/]+)\/([^/]+)\/([^/]+)$/;

async function route(state: CrmState, req: IncomingMessage, path: string): Promise<Answer> {
  const method = (req.method ?? 'GET').toUpperCase();
  const hub = HUBSPOT_ROUTE.exec(path);
  if (hub?.[1] !== undefined) {
    if (method !== 'POST') throw new HttpProblem(405, `${method} is not supported here`, { allow: 'POST' });
    requireBearer(req, CRM_TOKENS.hubspot, 'hubspot');
    return hubspotUpsert(state, decodeURIComponent(hub[1]), await readJson(req));
  }
  const sf = SALESFORCE_ROUTE.exec(path);
  if (sf?.[1] !== undefined && sf[2] !== undefined && sf[3] !== undefined) {
    if (method !== 'PATCH') throw new HttpProblem(405, `${method} is not supported here`, { allow: 'PATCH' });
    requireBearer(req, CRM_TOKENS.salesforce, 'salesforce');
    const [object, field, key] = [sf[1], sf[2], sf[3]].map(decodeURIComponent) as [string, string, string];
    return salesforceUpsert(state, object, field, key, await readJson(req));
  }
  throw new HttpProblem(404, `No CRM resource at ${path}.`);
}

/** Answers one request to the stand-in and logs it. */
export async function handleCrmRequest(
  state: CrmState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://sandbox.invalid').pathname;
  let answer: Answer;
  try {
    answer = await route(state, req, path);
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    answer = json(error.status, { message: error.message } satisfies JsonValue, error.headers);
  }
  state.requests.push({
    crm: path.startsWith('/hubspot') ? 'hubspot' : 'salesforce',
    method: (req.method ?? 'GET').toUpperCase(),
    path,
    status: answer.status,
    answer: answer.body,
  });
  write(res, answer);
}
