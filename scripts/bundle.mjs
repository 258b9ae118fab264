#!/usr/bin/env node
// The CLI bundled: dist/cli/main.js (over tsc's output of src/cli/main.ts) and the chunks it loads
// (dist/cli/bundle/), its dependencies inside. main.js itself holds only the signal handlers and
// the early start of gdb (src/collect/safe-call/gdb-process.ts); the program and each command are
// chunks loaded when needed. Node 20 resolves and loads an ES module graph file by file: the ~150 modules
// of tsc's output plus execa's and commander's cost about 150 ms of every run before heapgap does
// anything (`node scripts/bench-startup.mjs` measures it). tsc still type-checks and writes dist/
// for the scripts that import single modules (parsers, gdb's argv).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry a content hash: without this, every build's chunks stayed next to the last's.
rmSync('dist/cli/bundle', { recursive: true, force: true });

await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'dist/cli',
  entryNames: '[name]',
  chunkNames: 'bundle/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // commander is CommonJS: its require() of node's own modules needs a real require in an ES module
  banner: { js: "import { createRequire as heapgapCreateRequire } from 'node:module';\nconst require = heapgapCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  allowOverwrite: true,
});
