import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { eventBridgeEventSchema } from '../../shared/events/contract.ts';
import { JsonLinesBus } from '../../shared/publish/jsonl.ts';
import { toBusEntry } from '../../shared/publish/serialize.ts';
import { makeEvent, makeEvents } from './fakes.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

describe('JsonLinesBus', () => {
  it('writes one EventBridge-shaped event per line, as a rule target receives it', async () => {
    const stream = new PassThrough();
    const text = collect(stream);
    const bus = new JsonLinesBus({ target: stream, account: '123456789012', region: 'eu-west-1' });
    const events = makeEvents(3);

    const results = await bus.putEvents(events.map(toBusEntry));

    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    const parsed = lines.map((line) => eventBridgeEventSchema.parse(JSON.parse(line)));
    expect(parsed[0]).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      'detail-type': 'Customer Updated',
      source: 'nutcache.customers',
      account: '123456789012',
      time: '2026-11-27T10:00:00Z',
      region: 'eu-west-1',
      resources: [],
      detail: events[0]?.detail,
    });
    expect(new Set(parsed.map((p) => p.id)).size).toBe(3);
    expect(results).toEqual(parsed.map((p) => ({ ok: true, busEventId: p.id })));
  });

  it('uses the local defaults for account and region and drops milliseconds from time', async () => {
    const stream = new PassThrough();
    const text = collect(stream);
    const event = { ...makeEvent(1), time: '2026-11-27T10:00:00.987+01:00', resources: ['urn:org:1'] };

    await new JsonLinesBus({ target: stream }).putEvents([toBusEntry(event)]);

    const line = eventBridgeEventSchema.parse(JSON.parse(text()));
    expect(line).toMatchObject({
      account: '000000000000',
      region: 'local',
      time: '2026-11-27T09:00:00Z',
      resources: ['urn:org:1'],
    });
  });

  it('appends to a file, creating its directories', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jsonl-bus-'));
    dirs.push(dir);
    const path = join(dir, 'out', 'nested', 'events.jsonl');
    const bus = new JsonLinesBus({ target: path });

    await bus.putEvents(makeEvents(2).map(toBusEntry));
    await bus.putEvents([toBusEntry(makeEvent(3))]);

    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    const ids = lines.map((line) => {
      const detail = eventBridgeEventSchema.parse(JSON.parse(line)).detail as { eventId: string };
      return detail.eventId;
    });
    expect(ids).toEqual(['evt-1', 'evt-2', 'evt-3']);
  });

  it('answers MalformedDetail for a detail that is not a JSON object and writes only the good ones', async () => {
    const stream = new PassThrough();
    const text = collect(stream);
    const good = toBusEntry(makeEvent(1));

    const results = await new JsonLinesBus({ target: stream }).putEvents([
      { ...good, detail: '[1,2]' },
      good,
    ]);

    expect(results[0]).toMatchObject({ ok: false, errorCode: 'MalformedDetail' });
    expect(results[1]).toMatchObject({ ok: true });
    expect(text().trimEnd().split('\n')).toHaveLength(1);
  });

  it('rejects the call when the stream fails, so nothing counts as published', async () => {
    const broken = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('disk full'));
      },
    });
    broken.on('error', () => {});
    await expect(new JsonLinesBus({ target: broken }).putEvents([toBusEntry(makeEvent(1))])).rejects.toThrow(
      'disk full',
    );
  });
});
