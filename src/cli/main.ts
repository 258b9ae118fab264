#!/usr/bin/env node
// The entry point: SIGINT/SIGTERM handlers first (signals.ts and errors.ts are all that loads before
// them), then gdb for the commands that attach, then the program with its dependencies.
import './signals.js';
import { startEarlyFromArgv } from '../collect/safe-call/gdb-process.js';

// gdb takes about as long to start as this program takes to load: start it now (it attaches
// nothing until the program has read the target and given it its parameters).
startEarlyFromArgv(process.argv);

const { main } = await import('./program.js');
await main(process.argv);
