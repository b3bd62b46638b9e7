/**
 * Who serves a persisted embedded DynamoDB: LevelDB lets one process open its files, so the first process
 * to open a state directory serves it on a loopback port and records {pid, host, port, startedAt} in an
 * owner file beside it; later processes connect to that port. When the owner is gone (same host, PID no
 * longer alive, or its port dead for good) the next process removes the stale record and takes over.
 */
import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { processAlive } from './lease-rules.ts';

const ownerRecordSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  /** Absent while the owner is still starting its server. */
  port: z.number().int().positive().optional(),
  startedAt: z.string(),
});
export type OwnerRecord = z.infer<typeof ownerRecordSchema>;

/** How long a live owner's port may refuse connections before its record is taken for stale (PID reuse). */
const DEAD_PORT_MS = 5_000;
/** How long a take-over marker may stay before it is taken for the leftover of a killed process. */
const STALE_TAKEOVER_MS = 10_000;
const RETRY_MS = 50;

/** The owner file of the LevelDB directory `dataDir`. */
export function ownerFileOf(dataDir: string): string {
  return `${dataDir}.owner.json`;
}

export function readOwnerRecord(file: string): OwnerRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = ownerRecordSchema.safeParse(safeJson(text));
  // A record cut short by a crash while it was written: nobody owns the directory through it.
  return parsed.success ? parsed.data : { pid: 0, host: hostname(), startedAt: 'unreadable' };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What `findOwner` found: serve the directory ourselves, or connect to the owner's port. */
export type Ownership =
  | { readonly role: 'owner'; readonly record: OwnerRecord }
  | { readonly role: 'client'; readonly port: number };

/**
 * Becomes the owner of `file` (the record is created, without a port yet) or finds the live owner's port,
 * removing stale records on the way. Throws when another host owns the directory.
 */
export async function findOwner(file: string): Promise<Ownership> {
  let refusedSince: number | undefined;
  for (;;) {
    const record = readOwnerRecord(file);
    if (!record) {
      const mine = createRecord(file);
      if (mine) return { role: 'owner', record: mine };
      continue;
    }
    if (record.host !== hostname()) {
      throw new Error(
        `the local store is in use by process ${record.pid} on host ${record.host} (${file}); stop it or use another --state-dir`,
      );
    }
    if (!processAlive(record.pid)) {
      if (!removeStale(file, record)) await sleep(RETRY_MS);
      continue;
    }
    if (record.port !== undefined) {
      if (await portAnswers(record.port)) return { role: 'client', port: record.port };
      refusedSince ??= Date.now();
      if (Date.now() - refusedSince > DEAD_PORT_MS && removeStale(file, record)) continue;
    }
    await sleep(RETRY_MS);
  }
}

/** Creates the record exclusively; undefined when another process was first. */
function createRecord(file: string): OwnerRecord | undefined {
  const record: OwnerRecord = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  try {
    writeFileSync(file, JSON.stringify(record), { flag: 'wx' });
    return record;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
}

/** Completes our record with the port we serve on (replaced atomically: readers never see half of it). */
export function publishPort(file: string, record: OwnerRecord, port: number): OwnerRecord {
  const complete = { ...record, port };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(complete));
  renameSync(temporary, file);
  return complete;
}

/** Removes the record if it is still `record` (ours, or the stale one we judged). */
export function removeRecord(file: string, record: OwnerRecord): void {
  const current = readOwnerRecord(file);
  if (current?.pid !== record.pid || current.startedAt !== record.startedAt) return;
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Removes a stale record under a take-over marker (a directory: created atomically), so that two processes
 * finding the same stale record never remove a fresh one created meanwhile. False when another process
 * holds the marker.
 */
function removeStale(file: string, stale: OwnerRecord): boolean {
  const marker = `${file}.takeover`;
  try {
    mkdirSync(marker);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const since = statSync(marker, { throwIfNoEntry: false })?.mtimeMs;
    if (since !== undefined && Date.now() - since > STALE_TAKEOVER_MS)
      rmSync(marker, { force: true, recursive: true });
    return false;
  }
  try {
    removeRecord(file, stale);
  } finally {
    rmdirSync(marker);
  }
  return true;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
