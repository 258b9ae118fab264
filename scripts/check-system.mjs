#!/usr/bin/env node
// Set-up check run by `npm run demo` and `npm test`: heapgap needs gdb at run time, and the demo and
// the tests build C targets. Says which package to install instead of failing later.
import { spawnSync } from 'node:child_process';

const needs = [
  { cmd: 'gdb', args: ['--version'], pkg: 'gdb', why: 'heapgap calls malloc_info through gdb' },
  { cmd: 'gcc', args: ['--version'], pkg: 'gcc', why: 'the demo and the tests build small C targets' },
];
const missing = needs.filter(({ cmd, args }) => spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0);
if (process.arch !== 'x64' || process.platform !== 'linux') {
  console.error(`heapgap: runs on x86-64 Linux; this is ${process.platform}/${process.arch}`);
  process.exit(1);
}
if (missing.length > 0) {
  for (const m of missing) console.error(`heapgap: ${m.cmd} is missing (${m.why})`);
  console.error(`hint: install it: sudo apt-get install -y ${missing.map((m) => m.pkg).join(' ')}   (Fedora/RHEL: sudo dnf install ${missing.map((m) => m.pkg).join(' ')})`);
  process.exit(1);
}
