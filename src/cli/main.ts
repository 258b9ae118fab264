#!/usr/bin/env node
// The entry point: SIGINT/SIGTERM handlers first (signals.ts and errors.ts are all that loads before
// them), then the program with its dependencies.
import './signals.js';

const { main } = await import('./program.js');
await main(process.argv);
