import { readFile, readdir } from 'node:fs/promises';
import { parseHsperfdata } from '../runtimes/jvm/hsperfdata.js';
import type { RuntimeFacts } from '../runtimes/types.js';
import { readProcBuffer, readProc } from './procfs.js';

/** What maps tell before attach: is it a JVM, and where is its hsperfdata file mapped from. */
export interface RuntimeHints {
  jvm: boolean;
  /** Path of the mapped /tmp/hsperfdata_<user>/<nspid>, as the target sees it. */
  hsperfdata: string | null;
}

export function runtimeHints(paths: Iterable<string>): RuntimeHints {
  let jvm = false;
  let hsperfdata: string | null = null;
  for (const p of paths) {
    if (p.endsWith('/libjvm.so')) jvm = true;
    else if (/\/hsperfdata_[^/]+\/\d+$/.test(p)) hsperfdata = p;
  }
  return { jvm, hsperfdata };
}

/**
 * The command line, and a JVM's hsperfdata read as a file through the target's root (its /tmp may
 * be a container's). A read only: the JVM is neither stopped nor asked to do anything.
 */
export async function readRuntimeFacts(pid: number, hints: RuntimeHints): Promise<RuntimeFacts> {
  const cmdline = await readProcBuffer(pid, 'cmdline').then((b) => b.toString('utf8').split('\0').filter((a) => a !== ''), () => [] as string[]);
  if (!hints.jvm) return { cmdline, hsperfdata: null };
  const paths = hints.hsperfdata ? [hints.hsperfdata] : await guessPaths(pid);
  for (const path of paths) {
    try {
      const buf = await readFile(`/proc/${pid}/root${path}`);
      return { cmdline, hsperfdata: { path, counters: parseHsperfdata(buf, path) } };
    } catch {
      // try the next; the note below says none worked
    }
  }
  return { cmdline, hsperfdata: null, hsperfdataNote: hints.hsperfdata ? `hsperfdata ${hints.hsperfdata} is not readable from here` : 'the JVM publishes no hsperfdata (-XX:-UsePerfData, or /tmp not writable): ranges from flags and mapping shapes only' };
}

/** Without the mapping (-XX:+PerfDisableSharedMem keeps it private): /tmp/hsperfdata_* /<nspid>. */
async function guessPaths(pid: number): Promise<string[]> {
  const status = await readProc(pid, 'status').catch(() => '');
  const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).pop() ?? String(pid);
  const dirs = await readdir(`/proc/${pid}/root/tmp`).catch(() => [] as string[]);
  return dirs.filter((d) => d.startsWith('hsperfdata_')).map((d) => `/tmp/${d}/${nspid}`);
}
