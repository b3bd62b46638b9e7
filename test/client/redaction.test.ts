/**
 * A hostile Nutcache reflects the credentials back at the client, in the path and query of a
 * `navigation-next` link or in an error body, spelled raw, percent-encoded, HTML-escaped or base64. Whatever
 * the credentials, no error the client raises and no line it logs may contain them in any of those forms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReflectEncoding } from '../../sandbox/faults.ts';
import { type SandboxCredentials, startSandbox } from '../../sandbox/server.ts';
import { NutcacheClient } from '../../shared/nutcache/client.ts';
import { NutcacheError } from '../../shared/nutcache/errors.ts';
import { SlidingWindowLimiter } from '../../shared/nutcache/rate-limiter.ts';
import { Redactor } from '../../shared/nutcache/redact.ts';
import { TestClock } from '../support/clock.ts';
import { recordingLog } from './helpers.ts';

const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const htmlNamed = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' })[c] ?? c,
  );
const base64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Every spelling of every credential that must not appear. */
function forbiddenForms(c: SandboxCredentials): string[] {
  const values = [c.apiKey, c.username, c.password];
  const token = base64(`${c.apiKey}:${c.username}:${c.password}`);
  return [token, ...values.flatMap((v) => [v, encodeURIComponent(v), html(v), htmlNamed(v), base64(v)])];
}

/** A credential: 8 to 24 characters, mostly printable ASCII with some non-ASCII, at least 4 distinct. */
const credential = (exclude: string) =>
  fc
    .string({
      unit: fc.oneof(
        { weight: 9, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
        { weight: 1, arbitrary: fc.constantFrom('é', 'ß', '€', 'ü', '中') },
      ),
      minLength: 8,
      maxLength: 24,
    })
    .filter((s) => new Set(s).size >= 4 && ![...exclude].some((ch) => s.includes(ch)) && s.trim() === s);

const scenario = fc.record({
  credentials: fc.record({ apiKey: credential(':'), username: credential(':'), password: credential('') }),
  scheme: fc.constantFrom('nut-basic' as const, 'bearer' as const),
  into: fc.constantFrom('next-link' as const, 'body' as const),
  encoding: fc.constantFrom<ReflectEncoding>('raw', 'percent', 'html', 'base64'),
  status: fc.constantFrom(200, 400, 500),
});

describe('credential redaction against a reflecting server (property)', () => {
  it('never lets a credential, raw, percent-encoded, HTML-escaped or base64, into an error or a log line', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ credentials, scheme, into, encoding, status }) => {
        const sandbox = await startSandbox({ credentials: [credentials], rateLimit: null, generated: 15 });
        const log = recordingLog();
        const clock = new TestClock();
        try {
          sandbox.inject({ kind: 'reflect', into, encoding, status, page: 1, times: 3 });
          const client = new NutcacheClient({
            baseUrl: sandbox.url,
            organizationGuid: sandbox.organizationGuid,
            credentials,
            authScheme: scheme,
            clock,
            rateLimit: new SlidingWindowLimiter({ perSecond: 1000, perMinute: 100_000 }, clock),
            retry: { maxAttempts: 2 },
            logger: log,
          });
          const error = await (async () => {
            for await (const _ of client.listCustomers({ limit: 10 })) {
              // reading the pages is enough
            }
          })().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(NutcacheError);
          const e = error as Error;
          const texts = [`${e.message} ${JSON.stringify(e)} ${e.stack ?? ''}`, ...log.lines];
          for (const text of texts) {
            for (const form of forbiddenForms(credentials)) expect(text).not.toContain(form);
          }
        } finally {
          await sandbox.close();
        }
      }),
      { numRuns: 80 },
    );
  });
});

describe('Redactor', () => {
  const encodings: Record<string, (s: string) => string> = {
    raw: (s) => s,
    percent: encodeURIComponent,
    'percent, lower-case hex': (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    'percent twice': (s) => encodeURIComponent(encodeURIComponent(s)),
    form: (s) => new URLSearchParams({ v: s }).toString().slice(2),
    'html numeric': html,
    'html named': htmlNamed,
    'html hex': (s) => [...s].map((c) => `&#x${c.codePointAt(0)?.toString(16)};`).join(''),
    json: (s) => JSON.stringify(s).slice(1, -1),
  };

  it('removes a secret in every spelling, inside any text, base64 at any alignment (property)', () => {
    fc.assert(
      fc.property(
        credential(''),
        fc.string({ maxLength: 12 }),
        fc.string({ maxLength: 12 }),
        fc.constantFrom(...Object.keys(encodings)),
        (secret, before, after, encoding) => {
          const redactor = new Redactor([secret]);
          const spelled = `${before}${encodings[encoding]?.(secret)}${after}`;
          const wrapped = [spelled, base64(spelled)];
          for (const text of wrapped) {
            const shown = redactor.text(text);
            for (const form of forbiddenForms({ apiKey: secret, username: secret, password: secret })) {
              expect(shown).not.toContain(form);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('shows the rest of a path decoded, on one line, and clipped', () => {
    const redactor = new Redactor(['s3cr3t-Key']);
    const url = new URL(
      `https://h/webapi/customers/a%20b%0A${encodeURIComponent('s3cr3t-Key')}/${'x'.repeat(300)}`,
    );
    const shown = redactor.path(url);
    expect(shown.startsWith('/webapi/customers/a b [redacted]/xxx')).toBe(true);
    expect(shown).toHaveLength(200);
  });
});
