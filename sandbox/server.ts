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
import type { Sandbox, SandboxOptions } from './api.ts';
import { sandboxControl } from './control.ts';
import { internalError, write } from './http.ts';
import { handleRequest } from './pipeline.ts';
import { type CrmState, createCrmState, crmStandIn, handleCrmRequest, isCrmPath } from './routes/crm.ts';
import { createState, recordError, type SandboxState } from './state.ts';

/** The public shapes and constants (options, `Sandbox`, its controls, the demo credentials). */
export * from './api.ts';

/** Listens on `host:port` with the request pipeline; resolves once it listens. */
async function listen(state: SandboxState, crm: CrmState, host: string, port: number): Promise<Server> {
  const server: Server = createServer((req, res) => {
    const handled = isCrmPath(req.url) ? handleCrmRequest(crm, req, res) : handleRequest(state, req, res);
    handled.catch((error: unknown) => {
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

/** Stops accepting connections, cancels pending timers and ends open connections. */
function stopper(state: SandboxState, server: Server): () => Promise<void> {
  let closed: Promise<void> | undefined;
  return () => {
    closed ??= new Promise<void>((resolve) => {
      for (const t of state.timers) clearTimeout(t);
      state.timers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closed;
  };
}

/** Starts a sandbox Nutcache API and resolves once it listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const state = createState(options);
  const host = options.host ?? '127.0.0.1';
  const crm = createCrmState();
  const server = await listen(state, crm, host, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const endpoint = { url: `http://${urlHost}:${port}/webapi/`, port, host };
  const sandbox = sandboxControl(state, endpoint, stopper(state, server));
  // Object.assign keeps the control's getters: it adds `crm` to the same object.
  return Object.assign(sandbox, { crm: crmStandIn(crm, `http://${urlHost}:${port}`) });
}
