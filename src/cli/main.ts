#!/bin/sh
":" //; unset HEAPGAP_NODE_EXTRA_CA_CERTS HEAPGAP_EARLY_GDB; [ -z "${NODE_EXTRA_CA_CERTS+set}" ] || export HEAPGAP_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS; case $1 in inspect|trim|capture) hg_main=$0; [ -L "$hg_main" ] && hg_main=$(readlink -f -- "$hg_main"); [ -r "${hg_main%/*}/gdb-early.sh" ] && . "${hg_main%/*}/gdb-early.sh";; esac; exec node "$0" "$@"
// The line above is both sh and JavaScript: run as a command, sh reads it and starts node on this
// same file; node sees a string and a comment. It does two things node cannot do for itself:
// - NODE_EXTRA_CA_CERTS makes node parse a CA bundle as it starts, before any script runs (about
//   40 ms of every run here, a third of node's start), and heapgap opens no TLS connection. It is
//   given back below, to heapgap's children.
// - For the commands that attach, it starts gdb before node (gdb-early.sh, next to main.js once
//   built): gdb's start then overlaps node's. Without that file, or whenever it declines, node starts
//   gdb itself as the bundle's first act (entry.ts).
// The rest of the CLI is one bundle, compiled with V8's code cache (code-cache.ts); its entry
// (entry.ts) installs the SIGINT/SIGTERM handlers first. This file itself is built as CommonJS
// (scripts/bundle.mjs): node 20 sets up its ES module loader for an ES module entry, about 6 ms of
// every run here (an empty .mjs vs an empty .cjs, medians of 20).
import { loadCli } from './code-cache.js';
import type { Loaded } from './code-cache.js';

const caCerts = process.env.HEAPGAP_NODE_EXTRA_CA_CERTS;
if (caCerts !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = caCerts;
  delete process.env.HEAPGAP_NODE_EXTRA_CA_CERTS;
}

const say = (what: string, error: unknown) => {
  // said as program.ts says internal errors
  process.stderr.write(`heapgap: internal error: ${what}: ${(error as Error)?.message?.replace(/\s*\n\s*/g, ' ') ?? String(error)}\n`);
};

// While the bundle is read and compiled (5-20 ms), before its signals.ts can listen: a SIGINT or
// SIGTERM then is kept, not node's default death without a word. node hands it to the listeners
// there are when its event loop next turns: signals.ts's, by then.
const keep = () => undefined;
process.on('SIGINT', keep);
process.on('SIGTERM', keep);

// An event loop that empties while the command still awaits (a promise nothing will settle) is a
// bug to see, never a silent exit 0: 13, as node says an unsettled top-level await. Listening
// before the bundle does: the code cache is not written for such a run (code-cache.ts).
let ended = false;
process.once('exit', (code) => {
  if (ended || code !== 0) return;
  process.stderr.write('heapgap: internal error: the command never finished (nothing was left to wait for)\nhint: this is a bug in heapgap; rerun with HEAPGAP_DEBUG=1 and report the output.\n');
  process.exitCode = 13;
});

let loaded: Loaded;
try {
  loaded = loadCli(process.argv);
} catch (error) {
  // a broken install (the bundle missing or not readable)
  say("cannot load heapgap's code", error);
  process.stderr.write('hint: reinstall heapgap, or run `npm run build` in its checkout.\n');
  process.exit(3);
}
process.off('SIGINT', keep);
process.off('SIGTERM', keep);

loaded.cli.run(process.argv, loaded.cache).then(
  () => {
    ended = true;
    // The command has ended: once nothing else is left to do (every child ended, the sh line's gdb
    // too), exit at once. node's own teardown of a heap this size is about 10 ms of the user's
    // wait, and nothing of heapgap's runs in it; 'exit' handlers still do (the code cache is written
    // in one).
    process.once('beforeExit', () => process.exit());
  },
  (error: unknown) => {
    // main() turns every error into words and an exit code: this one is a bug of heapgap's
    ended = true;
    say('the command failed', error);
    process.exitCode = 3;
  },
);
