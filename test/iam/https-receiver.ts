/**
 * A Standard Webhooks receiver over https on 127.0.0.1 (the delivery function only posts to https URLs):
 * verifies each request with the `standardwebhooks` library, records it, and answers with scripted statuses
 * (default 204).
 */
import { createServer } from 'node:https';
import { Webhook } from 'standardwebhooks';
import { listenOnLoopback } from '../support/loopback.ts';

export interface HttpsReceiver {
  readonly url: string;
  readonly received: { readonly verified: boolean; readonly body: string }[];
  /** Statuses for the next requests, in order; afterwards 204. */
  readonly script: number[];
  close(): Promise<void>;
}

export async function startHttpsReceiver(
  tls: { key: string; cert: string },
  secret: string,
): Promise<HttpsReceiver> {
  const webhook = new Webhook(secret);
  const received: HttpsReceiver['received'] = [];
  const script: number[] = [];
  const server = createServer(tls, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = true;
      try {
        webhook.verify(body, request.headers as Record<string, string>);
      } catch {
        verified = false;
      }
      received.push({ verified, body });
      response.writeHead(script.shift() ?? 204);
      response.end();
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `https://127.0.0.1:${port}/hooks/crm`, received, script, close };
}
