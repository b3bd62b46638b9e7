/**
 * CloudFormation's side of a custom resource: the pre-signed response URL, on loopback. It keeps every
 * response the registrar PUTs (status, reason, physical id, data).
 */
import { createServer } from 'node:http';
import { z } from 'zod';
import { listenOnLoopback, readBody } from '../support/loopback.ts';

const responseSchema = z.object({
  Status: z.enum(['SUCCESS', 'FAILED']),
  Reason: z.string().optional(),
  PhysicalResourceId: z.string(),
  RequestId: z.string(),
  Data: z.record(z.string(), z.unknown()).optional(),
});
export type CustomResourceResponse = z.infer<typeof responseSchema>;

export interface CloudFormationReceiver {
  readonly url: string;
  readonly responses: CustomResourceResponse[];
  close(): Promise<void>;
}

export async function startCloudFormationReceiver(): Promise<CloudFormationReceiver> {
  const responses: CustomResourceResponse[] = [];
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    if (request.method === 'PUT') responses.push(responseSchema.parse(JSON.parse(body)));
    response.writeHead(request.method === 'PUT' ? 200 : 405).end();
  });
  const { port, close } = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}/cloudformation-response`, responses, close };
}
