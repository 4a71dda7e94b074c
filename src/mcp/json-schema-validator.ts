import { z } from 'zod';
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation';

/**
 * Checks elicitation answers against the schema the server asked with, using zod, which is loaded
 * anyway. The SDK's default (Ajv with formats) costs ~130 kB of code at every start; the bundle
 * leaves it out (scripts/build.mjs), so this validator is what the server uses everywhere.
 */
export class ZodJsonSchemaValidator implements jsonSchemaValidator {
  private readonly cache = new WeakMap<JsonSchemaType, z.ZodType>();

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    let zodSchema = this.cache.get(schema);
    if (!zodSchema) this.cache.set(schema, (zodSchema = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0])));
    const compiled = zodSchema;
    return (input) => {
      const result = compiled.safeParse(input);
      return result.success ? { valid: true, data: result.data as T, errorMessage: undefined } : { valid: false, data: undefined, errorMessage: z.prettifyError(result.error) };
    };
  }
}
