/**
 * An embedded DynamoDB (dynalite) on 127.0.0.1, for local runs and tests: in memory, or persisted in a
 * directory so that a later start finds the same data; `openSharedLocalDynamo` lets several processes
 * use one directory at once (one serves it, the others connect).
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { findOwner, type OwnerRecord, ownerFileOf, publishPort, removeRecord } from './local-dynamo-owner.ts';

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
  const served = await serveDynalite(options.stateDir, options.port ?? 0);
  const client = localClient(served.port);
  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${served.port}`,
    client,
    close: async () => {
      if (closed) return;
      closed = true;
      client.destroy();
      await served.close();
    },
  };
}

/** A persisted embedded DynamoDB that several processes use at once (see local-dynamo-owner.ts). */
export interface SharedLocalDynamo {
  readonly client: DynamoDBClient;
  /** Whether this process serves the files (so it must stay up while it works), or uses another's. */
  role(): 'owner' | 'client';
  /** Stops serving (if this process did) and releases the directory to the next process. */
  close(): Promise<void>;
}

/**
 * Opens the LevelDB directory `dataDir` for this process: serves it when nobody does (or its owner is
 * gone), else connects to the process that serves it. Every request goes to the current owner: when that
 * one exits, the next request takes over or follows the new owner.
 */
export async function openSharedLocalDynamo(dataDir: string): Promise<SharedLocalDynamo> {
  const share = new DirectoryShare(dataDir);
  const client = localClient(await share.port());
  client.middlewareStack.add(
    (next) => async (args) => {
      for (let attempt = 1; ; attempt++) {
        const port = await share.port();
        pointAt(args.request, port);
        try {
          return await next(args);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === undefined || !CONNECTION_ERRORS.has(code)) throw err;
          share.forget(port);
          // Refused: the request never reached the store, so it is safe to send again at once. Other
          // connection errors are left to the SDK's retries (which come back through here).
          if (code !== 'ECONNREFUSED' || attempt >= 3) throw err;
        }
      }
    },
    { step: 'deserialize', priority: 'low', name: 'followLocalDynamoOwner' },
  );
  let closed = false;
  return {
    client,
    role: () => share.role,
    close: async () => {
      if (closed) return;
      closed = true;
      client.destroy();
      await share.close();
    },
  };
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

function pointAt(request: unknown, port: number): void {
  if (typeof request !== 'object' || request === null || !('port' in request)) return;
  const http = request as { port?: number; hostname?: string; headers?: Record<string, string> };
  http.hostname = '127.0.0.1';
  http.port = port;
  if (http.headers) http.headers.host = `127.0.0.1:${port}`;
}

/** This process's use of one directory: the owner's port, found once and again after the owner left. */
class DirectoryShare {
  readonly #dataDir: string;
  readonly #file: string;
  #port: Promise<number> | undefined;
  #known: number | undefined;
  #served: { record: OwnerRecord; close(): Promise<void> } | undefined;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
    this.#file = ownerFileOf(dataDir);
  }

  get role(): 'owner' | 'client' {
    return this.#served ? 'owner' : 'client';
  }

  port(): Promise<number> {
    if (!this.#port) {
      this.#port = this.#resolve().then(
        (port) => {
          this.#known = port;
          return port;
        },
        (err: unknown) => {
          this.#port = undefined;
          throw err;
        },
      );
    }
    return this.#port;
  }

  /** The owner at `port` did not answer: the next request looks for the owner again. */
  forget(port: number): void {
    if (this.#known === port && !this.#served) {
      this.#port = undefined;
      this.#known = undefined;
    }
  }

  async #resolve(): Promise<number> {
    // The owner file sits beside the data directory: a first poll of a new --state-dir creates its parent.
    mkdirSync(dirname(this.#file), { recursive: true });
    const found = await findOwner(this.#file);
    if (found.role === 'client') return found.port;
    try {
      mkdirSync(this.#dataDir, { recursive: true });
      const served = await serveDynalite(this.#dataDir, 0);
      this.#served = { record: publishPort(this.#file, found.record, served.port), close: served.close };
      return served.port;
    } catch (err) {
      removeRecord(this.#file, found.record);
      throw err;
    }
  }

  async close(): Promise<void> {
    const served = this.#served;
    if (!served) return;
    this.#served = undefined;
    // The files are closed before the record goes: whoever takes over next can open them.
    await served.close();
    removeRecord(this.#file, served.record);
  }
}

/** Serves dynalite on 127.0.0.1 (`path`: its LevelDB directory; in memory when undefined). */
async function serveDynalite(
  path: string | undefined,
  port: number,
): Promise<{ readonly port: number; close(): Promise<void> }> {
  const server = dynalite({
    ...(path ? { path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      // Keep-alive sockets of clients would hold the server open.
      server.closeAllConnections?.();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

function localClient(port: number): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'local',
    // dynalite checks no signature; these fixed fake values only satisfy the SDK's signer.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}
