import { createHash } from 'node:crypto';

/**
 * A deterministic UUID (RFC 9562 version 8, SHA-256 based) naming one event. The inputs identify the change
 * (organization, customer, the poll that observed it, what kind), so the same change re-published after a
 * crash keeps its id, while two different changes of one customer (always observed by different polls)
 * never share one.
 */
export function deterministicEventId(...parts: readonly (string | number)[]): string {
  const digest = createHash('sha256').update(parts.map(String).join('\u001f')).digest();
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80; // version 8
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
