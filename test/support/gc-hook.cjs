// Preloaded into a spawned server by memory tests only (NODE_OPTIONS=--require …): on SIGUSR2 it
// runs a full garbage collection and prints process.memoryUsage() on stderr, so that a test can
// tell memory that is still held from garbage that V8 has not collected yet.
const v8 = require('node:v8');
const vm = require('node:vm');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
process.on('SIGUSR2', () => {
  gc();
  gc();
  process.stderr.write(`gc-hook: ${JSON.stringify(process.memoryUsage())}\n`);
});
