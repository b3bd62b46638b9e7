/**
 * A local `EventBus` that writes each accepted entry as one line of JSON shaped exactly like the EventBridge
 * event a rule target receives (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`,
 * `resources`, `detail`), to a stream or appended to a file. Like EventBridge, it answers `MalformedDetail`
 * for a detail that is not a JSON object. A write failure rejects the whole call.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import type { BusEntry, BusEntryResult, EventBus } from '../ports.ts';
import { isJsonObjectText, toEventBridgeEvent } from './serialize.ts';

export interface JsonLinesBusOptions {
  /** A stream (left open) or a file path (appended to; its directories are created). */
  readonly target: Writable | string;
  /** Default "000000000000". */
  readonly account?: string;
  /** Default "local". */
  readonly region?: string;
}

/** Writes `text` to a stream, resolving once it is flushed to the stream's buffer (or rejecting). */
export function writeToStream(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, 'utf8', (error) => (error ? reject(error) : resolve()));
  });
}

/** Appends `text` to `path`, creating its directory the first time. */
export class AppendOnlyFile {
  private ready: Promise<unknown> | undefined;
  constructor(readonly path: string) {}
  async append(text: string): Promise<void> {
    this.ready ??= mkdir(dirname(this.path), { recursive: true });
    await this.ready;
    await appendFile(this.path, text, { encoding: 'utf8', flag: 'a' });
  }
}

/** Writes text to a stream (left open) or appends it to a file path (directories created). */
export function lineWriter(target: Writable | string): (text: string) => Promise<void> {
  if (typeof target !== 'string') return (text) => writeToStream(target, text);
  const file = new AppendOnlyFile(target);
  return (text) => file.append(text);
}

export class JsonLinesBus implements EventBus {
  private readonly write: (text: string) => Promise<void>;
  private readonly account: string;
  private readonly region: string;

  constructor(options: JsonLinesBusOptions) {
    this.write = lineWriter(options.target);
    this.account = options.account ?? '000000000000';
    this.region = options.region ?? 'local';
  }

  async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
    const lines: string[] = [];
    const results = entries.map((entry): BusEntryResult => {
      if (!isJsonObjectText(entry.detail)) {
        return { ok: false, errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' };
      }
      const id = randomUUID();
      const event = toEventBridgeEvent(entry, { id, account: this.account, region: this.region });
      lines.push(`${JSON.stringify(event)}\n`);
      return { ok: true, busEventId: id };
    });
    // One write per call: a failed write rejects the call, so no entry is reported accepted unwritten.
    if (lines.length > 0) await this.write(lines.join(''));
    return results;
  }
}
