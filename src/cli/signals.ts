import { HeapgapError } from '../errors.js';

/**
 * The run's abort controller. SIGINT and SIGTERM handlers are installed as this module loads, and
 * it is the first of heapgap's modules to run (entry.ts imports it first; main.js keeps a signal
 * that comes while it compiles the bundle, for these): a signal that comes while the CLI is still
 * loading is a clean interruption too, not node's default exit without a word.
 */
export const controller = new AbortController();
let signalled = 0;

function onSignal(sig: NodeJS.Signals): void {
  signalled++;
  if (signalled === 1) {
    process.stderr.write(`heapgap: ${sig} received; finishing safely (the target is detached before exit)\n`);
    controller.abort(new HeapgapError('INTERRUPTED', `interrupted by ${sig}`));
  } else {
    process.stderr.write('heapgap: still waiting for the target to be released; it is never left stopped\n');
  }
}

process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
