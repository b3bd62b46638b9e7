/**
 * The sandbox Nutcache API: a loopback HTTP server (node:http) that behaves like the documented Nutcache
 * web API (customers listing and single customer, OAuth2 password-grant token, organizations; nut-basic and
 * bearer auth; api-version and OrganizationGuid headers; per-API-key rate limits), with a programmatic
 * control surface for tests, the local demo and the benchmark: data mutations, fault injection, key-casing
 * modes, token expiry, request statistics.
 *
 * This file is the wiring: the state (`state.ts`), the request pipeline (`pipeline.ts`, with the resources
 * under `routes/`), the control surface (`control.ts`) and the HTTP server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_CREDENTIALS, type Sandbox, type SandboxCustomers, type SandboxOptions } from './api.ts';
import { customersOf, statsOf, tokenControl } from './control.ts';
import type { KeyCasing } from './faults.ts';
import { internalError, write } from './http.ts';
import { handleRequest } from './pipeline.ts';
import { createState, findOrganization, recordError, resetCounters, type SandboxState } from './state.ts';

/** The public shapes and constants (options, `Sandbox`, its controls, the demo credentials). */
export * from './api.ts';

/** Listens on `host:port` with the request pipeline; resolves once it listens. */
async function listen(state: SandboxState, host: string, port: number): Promise<Server> {
  const server: Server = createServer((req, res) => {
    handleRequest(state, req, res).catch((error: unknown) => {
      recordError(state, error);
      if (!res.headersSent && !res.destroyed) write(res, internalError());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Starts a sandbox Nutcache API and resolves once it listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const state = createState(options);
  const host = options.host ?? '127.0.0.1';
  const server = await listen(state, host, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  const { primary, organizations, faults, settings, timers } = state;
  const primaryCustomers = customersOf(primary);

  const sandbox: Sandbox = {
    url: `http://${urlHost}:${port}/webapi/`,
    port,
    host,
    credentials: { ...(state.users[0] ?? DEMO_CREDENTIALS) },
    organizationGuid: primary.guid,
    organizationGuids: organizations.map((o) => o.guid),
    organization(guid: string): SandboxCustomers {
      const o = findOrganization(state, guid);
      if (!o) throw new Error(`no sandbox organization ${guid}`);
      return customersOf(o);
    },
    create: primaryCustomers.create,
    update: primaryCustomers.update,
    remove: primaryCustomers.remove,
    get: primaryCustomers.get,
    list: primaryCustomers.list,
    reset(): void {
      for (const o of organizations) o.store.reset();
    },
    get size() {
      return primary.store.size;
    },
    get stats() {
      return statsOf(state);
    },
    resetStats: () => resetCounters(state),
    get log() {
      return state.log;
    },
    inject: (spec) => faults.add(spec),
    afterPage: (page, change) => faults.add({ kind: 'mutate', when: 'after', page, run: change }),
    clearFaults: () => faults.clear(),
    get faults() {
      return faults.active;
    },
    setKeyCasing(casing: KeyCasing): void {
      settings.keyCasing = casing;
    },
    get keyCasing() {
      return settings.keyCasing;
    },
    setLatency(ms: number): void {
      if (!(ms >= 0)) throw new Error('latency must be >= 0 ms');
      settings.latencyMs = ms;
    },
    tokens: tokenControl(state),
    errors: state.errors,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return sandbox;
}
