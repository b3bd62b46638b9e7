import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeShard, encodeShard } from '../../shared/store/index-codec.ts';
import { decodeJournal, encodeJournal } from '../../shared/store/journal-codec.ts';
import { customerSk, journalSk, orgPk, runSk } from '../../shared/store/layout.ts';
import { incompressible, journalEntry, runRecord } from './helpers.ts';

describe('store keys', () => {
  it('builds the documented keys', () => {
    expect(orgPk('846e176e-7c4b-4bfd-a894-c98f2988927e')).toBe('ORG#846E176E-7C4B-4BFD-A894-C98F2988927E');
    expect(customerSk(143_222)).toBe('CUSTOMER#000000000143222');
    expect(journalSk(42, 3)).toBe('JOURNAL#000000000042#0003');
    expect(runSk(runRecord('org', 1, '2026-01-15T13:00:00+01:00'))).toBe(
      'RUN#2026-01-15T12:00:00.000Z#poll-1',
    );
  });

  it('refuses ids the key layout cannot hold', () => {
    expect(() => customerSk(-1)).toThrow(/customer id -1/);
    expect(() => customerSk(1.5)).toThrow(/customer id 1.5/);
    expect(() => customerSk(1e15)).toThrow(/customer id/);
    expect(() => orgPk('')).toThrow(/organizationGuid/);
  });
});

describe('index shard codec', () => {
  it('packs 16 bytes per customer, sorted by id, and unpacks the same map', () => {
    const entries: [number, string][] = [
      [512 + 7, 'ffffffffffffffff'],
      [7, '0123456789abcdef'],
      [999_999_999_999_751, '0000000000000000'],
    ];
    const bytes = encodeShard(entries);
    expect(bytes.byteLength).toBe(48);
    expect(Buffer.from(bytes.subarray(0, 16)).toString('hex')).toBe('00000000000000070123456789abcdef');
    const out = new Map<number, string>();
    decodeShard(7, bytes, out);
    expect(out).toEqual(new Map(entries));
  });

  it('refuses hashes that are not 16 lower-case hex characters', () => {
    expect(() => encodeShard([[1, 'ABCDEF0123456789']])).toThrow(/customer 1: hash/);
    expect(() => encodeShard([[1, 'abc']])).toThrow(/customer 1: hash/);
  });

  it('names the shard when its bytes are corrupt', () => {
    expect(() => decodeShard(5, new Uint8Array(17), new Map())).toThrow(/INDEX#005 is corrupt/);
    const wrongShard = encodeShard([[6, '0123456789abcdef']]);
    expect(() => decodeShard(5, wrongShard, new Map())).toThrow(/INDEX#005 is corrupt/);
  });
});

describe('journal codec', () => {
  it('keeps every item under the budget and the entries in order', async () => {
    const entries = Array.from({ length: 120 }, (_, i) =>
      journalEntry('org', i, i + 1, incompressible(3_000)),
    );
    const payloads = await encodeJournal(entries, 100_000);
    expect(payloads.length).toBeGreaterThanOrEqual(3);
    for (const p of payloads) expect(p.byteLength).toBeLessThanOrEqual(100_000);
    const decoded = await Promise.all(payloads.map((p, i) => decodeJournal(`k${i}`, p)));
    expect(decoded.flat()).toEqual(entries);
  });

  it('puts a compressible batch in one item', async () => {
    const entries = Array.from({ length: 2_000 }, (_, i) => journalEntry('org', i, i + 1));
    expect(await encodeJournal(entries)).toHaveLength(1);
  });

  it('refuses an entry too large for any DynamoDB item', async () => {
    await expect(encodeJournal([journalEntry('org', 1, 1, incompressible(600_000))])).rejects.toThrow(
      /more than a DynamoDB item can hold/,
    );
  });

  it('names the item when a payload is corrupt', async () => {
    await expect(decodeJournal('JOURNAL#1', new Uint8Array([1, 2, 3]))).rejects.toThrow(
      /journal item JOURNAL#1 is corrupt: not gzip/,
    );
    await expect(decodeJournal('JOURNAL#2', gzipSync('{oops'))).rejects.toThrow(
      /JOURNAL#2 is corrupt: not JSON/,
    );
    await expect(decodeJournal('JOURNAL#3', gzipSync(JSON.stringify([{ customerId: 'x' }])))).rejects.toThrow(
      /JOURNAL#3 is corrupt/,
    );
  });
});

describe('journal codec: records stored once', () => {
  it('keeps a snapshot that equals its event’s after only once, and restores it exactly', async () => {
    const entry = journalEntry('ORG', 7, 3, incompressible(100_000));
    const [payload] = await encodeJournal([entry]);
    // One copy of 100 KB of incompressible notes, not two.
    expect(payload?.byteLength).toBeLessThan(150_000);
    const [decoded] = await decodeJournal('k', payload as Buffer);
    expect(decoded).toEqual(entry);
  });

  it('keeps a snapshot whose record differs from the event’s after (a truncated event) in full', async () => {
    const entry = journalEntry('ORG', 8, 4, 'notes');
    const truncated = {
      ...entry,
      event: { ...entry.event, detail: { ...entry.event.detail, after: null, truncated: true } },
    };
    const [payload] = await encodeJournal([truncated]);
    const [decoded] = await decodeJournal('k', payload as Buffer);
    expect(decoded).toEqual(truncated);
    expect(decoded?.snapshot?.record).toEqual(entry.snapshot?.record);
  });
});
