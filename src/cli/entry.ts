/**
 * The bundle's entry (scripts/bundle.mjs builds dist/cli/heapgap-<hash>.cjs from it; main.js
 * compiles that with V8's code cache, code-cache.ts, and calls run()). Its first import installs the
 * SIGINT/SIGTERM handlers (signals.ts) before any other module of heapgap's runs; then gdb is started
 * for the commands that attach (unless main.js's sh line started it), then the program loads.
 */
import './signals.js';
import { discardEarly, startEarlyFromArgv } from '../collect/safe-call/gdb-process.js';
import { mark } from '../marks.js';
import type { CacheUse } from './code-cache.js';

export async function run(argv: string[], cache: CacheUse): Promise<void> {
  mark(`code-cache-${cache}`);
  // gdb takes about as long to start as this program takes to load: start it now (it attaches
  // nothing until the program has read the target and given it its parameters).
  startEarlyFromArgv(argv);
  const { main } = await import('./program.js');
  await main(argv);
  // a gdb started above that no command took (one that failed before reading the target): told to quit
  await discardEarly();
}
