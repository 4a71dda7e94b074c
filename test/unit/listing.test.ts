import { describe, expect, it } from 'vitest';
import { selectTools } from '../../src/mcp/toolsets.js';
import { buildDefinition } from '../../src/mcp/listing.js';
import { FEATURE_NAMES } from '../../src/config.js';

const listed = (readOnly: boolean) => selectTools({ readOnly, features: FEATURE_NAMES }).map((t) => buildDefinition(t.spec));

describe('tools/list definitions', () => {
  it('stay under 450 bytes per tool, so a listing costs the model little on every turn', () => {
    for (const readOnly of [false, true]) {
      const tools = listed(readOnly);
      expect(Buffer.byteLength(JSON.stringify({ tools })) / tools.length).toBeLessThanOrEqual(450);
    }
  });

  it('list hints that differ from the defaults: read-only tools say so, destructive ones are not called safe', () => {
    for (const def of listed(true)) expect(def.annotations?.readOnlyHint).toBe(true);
    const deleteBucket = listed(false).find((d) => d.name === 'delete-bucket');
    expect(deleteBucket?.annotations?.readOnlyHint).toBeUndefined();
    expect(deleteBucket?.annotations?.destructiveHint).toBeUndefined(); // true is the default
  });

  it('carry no output schema and no JSON-Schema noise', () => {
    const text = JSON.stringify(listed(false));
    expect(text).not.toContain('outputSchema');
    expect(text).not.toContain('$schema');
  });
});
