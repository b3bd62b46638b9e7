/**
 * An independent Standard Webhooks receiver for tests: a loopback HTTP server (127.0.0.1, ephemeral port)
 * that verifies each request with the `standardwebhooks` library's own `Webhook.verify`, records it, and
 * answers with scripted responses (default 204).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The payload as `Webhook.verify` returned it, or the verification error message. */
  readonly verified:
    | { readonly ok: true; readonly payload: unknown }
    | { readonly ok: false; readonly error: string };
}

export interface ScriptedResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** Never answer (to test timeouts). */
  readonly hang?: boolean;
}

export interface Receiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** Responses for the next requests, in order; afterwards 204. */
  readonly script: ScriptedResponse[];
  close(): Promise<void>;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value === 'string') out[key] = value;
    else if (Array.isArray(value)) out[key] = value.join(', ');
  }
  return out;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const webhook = new Webhook(secret);
  const received: ReceivedWebhook[] = [];
  const script: ScriptedResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified: ReceivedWebhook['verified'];
      try {
        verified = { ok: true, payload: webhook.verify(body, flatHeaders(req.headers)) };
      } catch (error) {
        verified = { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
      received.push({ path: req.url ?? '/', headers: req.headers, body, verified });
      const next = script.shift() ?? { status: 204 };
      if (next.hang) return;
      res.writeHead(next.status, next.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/nutcache`,
    received,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
