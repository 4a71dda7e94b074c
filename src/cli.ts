#!/usr/bin/env node
// The entry point only turns on Node's compile cache (Node 22.1+; a no-op on Node 20) before the
// rest is imported: a cold start otherwise spends a third of its time compiling the bundle.
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./commands.js');
