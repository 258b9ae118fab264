// How a build of heapgap is run by the scripts: as users run it, as a command, when its main.js is
// one (its first lines are sh: they start gdb before node, src/cli/main.ts); an older build without
// them, by node.
import { readFileSync } from 'node:fs';

/** [file, args] for execa/spawn: main.js itself, or node with main.js first. */
export function heapgapCommand(main, args) {
  return readFileSync(main, 'utf8').startsWith('#!/bin/sh\n') ? [main, args] : [process.execPath, [main, ...args]];
}
