/**
 * An embedded DynamoDB (dynalite) on 127.0.0.1, for local runs and tests: in memory, or persisted in a
 * directory so that a later start finds the same data.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

export interface LocalDynamoOptions {
  /** Directory of the LevelDB files; in memory when omitted. */
  readonly stateDir?: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
}

export interface LocalDynamo {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** Stops the server and closes the database (persisted data is flushed to disk). */
  close(): Promise<void>;
}

export async function startLocalDynamo(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  if (options.stateDir) mkdirSync(options.stateDir, { recursive: true });
  const server = dynalite({
    ...(options.stateDir ? { path: options.stateDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    // dynalite checks no signature; these fixed fake values only satisfy the SDK's signer.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  let closed = false;
  return {
    endpoint,
    client,
    close: async () => {
      if (closed) return;
      closed = true;
      client.destroy();
      // Keep-alive sockets of the client would hold the server open.
      server.closeAllConnections?.();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
