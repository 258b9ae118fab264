#!/usr/bin/env node
// The CLI bundled: dist/cli/main.js (over tsc's output of src/cli/main.ts) and the chunks it loads
// (dist/cli/bundle/), its dependencies inside. main.js itself holds only the signal handlers and
// the early start of gdb (src/collect/safe-call/gdb-process.ts); the program and each command are
// chunks loaded when needed. Node 20 resolves and loads an ES module graph file by file: the ~150 modules
// of tsc's output plus execa's and commander's cost about 150 ms of every run before heapgap does
// anything (`node scripts/bench-startup.mjs` measures it). tsc still type-checks and writes dist/
// for the scripts that import single modules (parsers, gdb's argv).
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

// main.ts's first two lines are a sh script as well as JavaScript (see there); esbuild keeps the
// "#!/bin/sh" but turns the sh line into `":";` under its banner. Put the line back as line 2, and
// make main.js executable: run as a command, sh reads those two lines and starts node on the file.
const [hashbang, shLine] = readFileSync('src/cli/main.ts', 'utf8').split('\n');
if (hashbang !== '#!/bin/sh' || !shLine.startsWith('":" //;')) throw new Error('src/cli/main.ts must begin with its #!/bin/sh line and the ":" //; line');
const lines = readFileSync('dist/cli/main.js', 'utf8').split('\n');
if (lines[0] !== hashbang || !lines.includes('":";')) throw new Error('dist/cli/main.js: esbuild no longer writes the sh lines as expected');
writeFileSync('dist/cli/main.js', [hashbang, shLine, ...lines.slice(1).filter((l) => l !== '":";')].join('\n'));
chmodSync('dist/cli/main.js', 0o755);

// dist/cli/gdb-early.sh: src/collect/safe-call/gdb-early.sh with gdb's command line in place, for
// any pid ($2) and wherever the package is installed: gdbArgs() is called here for a pid that
// cannot occur otherwise, and that pid and the directory of gdb's files (ASSETS, only in gdb's own
// commands: Python reads it from HEAPGAP_ASSETS) become sh variables.
const { ASSETS, gdbArgs } = await import('../dist/collect/safe-call/gdb-argv.js');
const PID = 4294967295; // above pid_max's limit (2^22)
const argv = gdbArgs({ pid: PID });
const count = (what) => argv.reduce((n, a) => n + a.split(what).length - 1, 0);
if (count(String(PID)) !== 2 || count(ASSETS) !== 1) throw new Error(`gdbArgs: expected the pid twice (exe_check.py, heapgap_attach) and ASSETS once (tdesc), found ${count(String(PID))} and ${count(ASSETS)}`);
const shQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
const shArg = (a) => a.split(new RegExp(`(${ASSETS.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|${PID})`)).filter((p) => p !== '').map((p) => (p === ASSETS ? '"$hg_root/src/collect/safe-call"' : p === String(PID) ? '"$2"' : shQuote(p))).join('') || "''";
const template = readFileSync('src/collect/safe-call/gdb-early.sh', 'utf8');
if (template.split('@GDB_ARGS@').length !== 2) throw new Error('src/collect/safe-call/gdb-early.sh must hold @GDB_ARGS@ once');
writeFileSync('dist/cli/gdb-early.sh', template.replace('@GDB_ARGS@', `exec "$hg_g" ${argv.map(shArg).join(' ')}`), { mode: 0o644 });
