#!/usr/bin/env node
// The CLI bundled: dist/cli/main.js (over tsc's output of src/cli/main.ts), and the rest of the CLI,
// its dependencies inside, as one CommonJS file, dist/cli/heapgap-<content hash>.cjs, from
// src/cli/entry.ts. main.js compiles that file with V8's code cache (src/cli/code-cache.ts): node 20
// has a code cache for scripts, none for ES modules, and without one V8 compiled every function
// inspect runs on every run. Node 20 also resolves and loads an ES module graph file by file: the
// ~150 modules of tsc's output plus execa's and commander's cost about 150 ms of every run
// (`node scripts/bench-startup.mjs` measures both). tsc still type-checks and writes dist/ for the
// scripts that import single modules (parsers, gdb's argv).
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// what earlier builds left: their bundles, the code caches made for them, the chunks of the ES
// module bundle this one replaced
rmSync('dist/cli/bundle', { recursive: true, force: true });
rmSync('dist/cli/code-cache', { recursive: true, force: true });
for (const f of readdirSync('dist/cli')) if (/^heapgap-\w+\.cjs$/.test(f)) rmSync(`dist/cli/${f}`);

const cjs = await build({
  entryPoints: ['src/cli/entry.ts'],
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // paths.ts finds the package from its own URL: the bundle's, which code-cache.ts passes in
  define: { 'import.meta.url': '__heapgap_url' },
  logLevel: 'warning',
});
const code = cjs.outputFiles[0].contents;
// V8 takes a code cache for any source of the same length: a new build must not meet an old cache
const bundleName = `heapgap-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.cjs`;
writeFileSync(`dist/cli/${bundleName}`, code);

// main.js as CommonJS (node 20 sets up its ES module loader for an ES module entry, ~6 ms of every
// run): dist/cli/package.json says so for the files there. tsc's ES module output for src/cli/ is
// removed: nothing loads it (the CLI is main.js and the bundle), and it would now read as CommonJS.
for (const f of readdirSync('dist/cli')) if (!/^(main\.js|heapgap-\w+\.cjs|gdb-early\.sh)$/.test(f)) rmSync(`dist/cli/${f}`, { recursive: true, force: true });
writeFileSync('dist/cli/package.json', `${JSON.stringify({ type: 'commonjs' })}\n`);
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/main.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: { HEAPGAP_BUNDLE: JSON.stringify(bundleName), 'import.meta.url': '__heapgap_main_url' },
  banner: { js: "const __heapgap_main_url = require('node:url').pathToFileURL(__filename).href;" },
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
