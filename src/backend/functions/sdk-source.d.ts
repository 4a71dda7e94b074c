/** The @insforge/sdk bundle as source text, put in by scripts/functions-runtime.mjs when runtime.ts is bundled. */
declare module 'insforge-sdk-source' {
  const source: string;
  export default source;
}
