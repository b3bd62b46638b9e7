import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  parseSigningSecrets,
  signWebhook,
  verifyWebhook,
} from '../../shared/webhooks/signing.ts';

const NOW = Date.parse('2026-01-15T10:00:00Z');
const body = JSON.stringify({ detail: { eventId: 'evt-1' } });

describe('Standard Webhooks signing', () => {
  it('produces headers the standardwebhooks library verifies', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook('evt-1', Date.now(), body, [secret]);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual({ detail: { eventId: 'evt-1' } });
  });

  it('signs with both secrets during a rotation, so receivers holding either one accept', () => {
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
    const headers = signWebhook('evt-1', Date.now(), body, [current, previous]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(current).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(previous).verify(body, { ...headers })).not.toThrow();
    expect(() => new Webhook(generateWebhookSecret()).verify(body, { ...headers })).toThrow();
  });

  it('verifies with an injected clock: 5 minutes of tolerance either way', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook('evt-1', NOW, body, [secret]);
    expect(verifyWebhook(body, headers, [secret], NOW + 299_000)).toMatchObject({ ok: true, id: 'evt-1' });
    expect(verifyWebhook(body, headers, [secret], NOW - 299_000).ok).toBe(true);
    expect(verifyWebhook(body, headers, [secret], NOW + 301_000)).toEqual({
      ok: false,
      reason: 'timestamp-out-of-tolerance',
    });
    expect(verifyWebhook(body, headers, [secret], NOW - 301_000).ok).toBe(false);
  });

  it('rejects a tampered body, a foreign secret, missing headers and a non-numeric timestamp', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook('evt-1', NOW, body, [secret]);
    expect(verifyWebhook(`${body} `, headers, [secret], NOW)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyWebhook(body, headers, [generateWebhookSecret()], NOW)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyWebhook(body, { ...headers, 'webhook-id': 'evt-2' }, [secret], NOW).ok).toBe(false);
    expect(verifyWebhook(body, { 'webhook-id': 'evt-1' }, [secret], NOW)).toEqual({
      ok: false,
      reason: 'missing-headers',
    });
    expect(verifyWebhook(body, { ...headers, 'webhook-timestamp': '1e9' }, [secret], NOW)).toEqual({
      ok: false,
      reason: 'bad-timestamp',
    });
  });

  it('accepts the signature of a previous secret kept in the secret value', () => {
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
    const headers = signWebhook('evt-1', NOW, body, [previous]);
    expect(verifyWebhook(body, headers, [current, previous], NOW).ok).toBe(true);
  });
});

describe('signing secret values', () => {
  it('reads {"secrets": [...]} JSON, parsed or not, and a bare whsec_ string', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()];
    expect(parseSigningSecrets(JSON.stringify({ secrets: [a, b] }))).toEqual([a, b]);
    expect(parseSigningSecrets({ secrets: [a] })).toEqual([a]);
    expect(parseSigningSecrets(a)).toEqual([a]);
  });

  it('accepts a Secrets Manager generated 32-character alphanumeric value as a whsec_ secret', () => {
    const generated = 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z';
    const [normalised] = parseSigningSecrets(generated);
    expect(normalised).toBe(`whsec_${generated}`);
    const headers = signWebhook('evt-1', Date.now(), body, [normalised ?? '']);
    expect(() => new Webhook(`whsec_${generated}`).verify(body, { ...headers })).not.toThrow();
  });

  it('rejects bad values without ever echoing them', () => {
    const short = `whsec_${Buffer.from('short').toString('base64')}`;
    for (const bad of ['plain-password', short, { secrets: [] }, { secret: 'x' }, '{not json']) {
      let message = '';
      try {
        parseSigningSecrets(bad);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^webhook secret: /);
      expect(message).not.toContain('plain-password');
      expect(message).not.toContain(short);
    }
  });
});
