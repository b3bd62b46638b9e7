/** Test doubles for the Nutcache client tests: a clock, a scripted fetch, a log recorder, a loopback server. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, Log } from '../../shared/ports.ts';
import { TestClock } from '../support/clock.ts';

/**
 * The test clock on a virtual timeline (2025-01-06T09:00Z): nothing ever really waits, concurrent sleeps
 * overlap as they would in real time, and every requested sleep is recorded.
 */
export function clientClock(): TestClock {
  return new TestClock({ start: Date.UTC(2025, 0, 6, 9, 0, 0), sleep: 'timeline' });
}

export interface SeenRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: string | undefined;
  /** Clock time at which the request was sent. */
  readonly at: number;
}

export type Handler = (request: SeenRequest, index: number) => Response | Promise<Response>;

/** A fetch that records every request and answers with `handler`. */
export function scriptedFetch(handler: Handler, clock?: Clock) {
  const requests: SeenRequest[] = [];
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const request: SeenRequest = {
      method: init.method ?? 'GET',
      url: new URL(url),
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? init.body : undefined,
      at: clock?.now() ?? Date.now(),
    };
    requests.push(request);
    return handler(request, requests.length - 1);
  };
  return { fetch, requests };
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export function text(body: string, status: number, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers });
}

/** A Log that keeps every line (message and extra objects serialised). */
export function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, ...extra: object[]) => {
      lines.push(`${level} ${message} ${JSON.stringify(extra)}`);
    };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

/** A node:http server on 127.0.0.1, port 0. */
export async function loopbackServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<{ baseUrl: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/webapi/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const credentials = {
  apiKey: 'aYzORmnGi0xpixBu49oyzrJjGfFcfwgQ2rxvhitd',
  username: 'apidocs@apidocs.com',
  password: 'pa$$word:with/odd&chars',
} as const;

export const ORG = '846E176E-7C4B-4BFD-A894-C98F2988927E';
