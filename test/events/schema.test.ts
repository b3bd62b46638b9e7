import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatedSchemas, SCHEMA_FILES } from '../../scripts/generate-schema.ts';
import { buildChangeEvent } from '../../shared/engine/events.ts';
import { customerChangeDetailSchema } from '../../shared/events/contract.ts';

describe('the published JSON Schemas', () => {
  it('are exactly what the contract generates (run `npm run schema` after changing the contract)', () => {
    const generated = generatedSchemas();
    expect(readFileSync(SCHEMA_FILES.change, 'utf8')).toBe(generated.change);
    expect(readFileSync(SCHEMA_FILES.anomaly, 'utf8')).toBe(generated.anomaly);
    expect(readFileSync(SCHEMA_FILES.organizationStale, 'utf8')).toBe(generated.organizationStale);
  });

  it('describe the Organization Stale event: its detail-type, source and the fields an operator needs', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILES.organizationStale, 'utf8')) as {
      properties: {
        'detail-type': { enum: string[] };
        source: { enum: string[] };
        detail: { required: string[] };
      };
    };
    expect(schema.properties['detail-type'].enum).toEqual(['Organization Stale']);
    expect(schema.properties.source.enum).toEqual(['nutcache.customers']);
    expect(schema.properties.detail.required).toEqual(
      expect.arrayContaining([
        'eventId',
        'organizationGuid',
        'lastSuccessAt',
        'everyMinutes',
        'staleMinutes',
      ]),
    );
  });

  it('require every field the consumer contract relies on', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILES.change, 'utf8')) as {
      properties: { detail: { required: string[]; properties: Record<string, unknown> } };
    };
    expect(schema.properties.detail.required).toEqual(
      expect.arrayContaining([
        'eventId',
        'schemaVersion',
        'organizationGuid',
        'customerId',
        'changeType',
        'changedFields',
        'before',
        'after',
        'sequence',
        'observedAt',
        'pollId',
      ]),
    );
  });

  it('reject an event without a sequence (the zod contract the schema is generated from)', () => {
    const event = buildChangeEvent(
      {
        organizationGuid: 'ORG',
        source: 'nutcache.customers',
        pollId: 'p',
        sequence: 3,
        observedAt: '2026-11-27T10:00:00.000Z',
      },
      'created',
      null,
      { id: 1, name: 'x' },
    );
    expect(customerChangeDetailSchema.safeParse(event.detail).success).toBe(true);
    const { sequence: _s, ...withoutSequence } = event.detail as Record<string, unknown>;
    expect(customerChangeDetailSchema.safeParse(withoutSequence).success).toBe(false);
  });
});
