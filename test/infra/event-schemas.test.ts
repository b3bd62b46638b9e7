import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  anomalyEventSchema,
  CHANGE_EVENT_SCHEMA_FILE,
  customerChangeEventSchema,
  wrapAsEventSchema,
} from '../../infra/event-schemas.ts';
import { REPO_ROOT } from '../../infra/stacks/nutcache-cdc-stack.ts';
import { synthesise } from './fixtures/synth.ts';

describe('event schemas for the schema registry', () => {
  const empty = mkdtempSync(join(tmpdir(), 'nutcache-schemas-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('generates, when schema/ has no file, exactly what the committed files say', () => {
    for (const make of [customerChangeEventSchema, anomalyEventSchema]) {
      const committed = make('nutcache.customers', REPO_ROOT);
      const generated = make('nutcache.customers', empty);
      expect(committed.origin).toBe('file');
      expect(generated.origin).toBe('generated');
      expect(JSON.parse(generated.content)).toEqual(JSON.parse(committed.content));
    }
  });

  it('wraps a bare detail schema as an EventBridge event, hoisting its definitions', () => {
    const wrapped = wrapAsEventSchema(
      {
        $schema: 'http://json-schema.org/draft-04/schema#',
        type: 'object',
        properties: { v: { $ref: '#/definitions/value' } },
        definitions: { value: { type: 'string' } },
      },
      { title: 'T', source: 'acme.crm', detailTypes: ['A', 'B'] },
    );
    expect(wrapped).toMatchObject({
      $schema: 'http://json-schema.org/draft-04/schema#',
      properties: {
        'detail-type': { enum: ['A', 'B'] },
        source: { enum: ['acme.crm'] },
        detail: { type: 'object', properties: { v: { $ref: '#/definitions/value' } } },
      },
      definitions: { value: { type: 'string' } },
    });
    expect((wrapped.properties as { detail: object }).detail).not.toHaveProperty('definitions');
  });

  it('accepts a committed file holding only the detail schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nutcache-schemas-bare-'));
    try {
      const bare = { type: 'object', properties: { eventId: { type: 'string' } } };
      mkdirSync(join(dir, 'schema'));
      writeFileSync(join(dir, CHANGE_EVENT_SCHEMA_FILE), JSON.stringify(bare));
      const document = JSON.parse(customerChangeEventSchema('nutcache.customers', dir).content);
      expect(document.properties.detail).toEqual(bare);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the schemas after, and restricts them to, the configured event source', () => {
    const { template } = synthesise({ eventSource: 'acme.nutcache' });
    const schemas = Object.values(template.findResources('AWS::EventSchemas::Schema')).map(
      (r) => (r as { Properties: { SchemaName: string; Content: string } }).Properties,
    );
    expect(schemas.map((s) => s.SchemaName).sort()).toEqual([
      'acme.nutcache@CustomerChange',
      'acme.nutcache@CustomerSyncAnomaly',
      'acme.nutcache@OrganizationStale',
    ]);
    for (const schema of schemas) {
      expect(JSON.parse(schema.Content).properties.source.enum).toEqual(['acme.nutcache']);
    }
    template.hasResourceProperties('AWS::Events::Archive', { EventPattern: { source: ['acme.nutcache'] } });
  });
});
