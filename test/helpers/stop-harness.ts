// Runs one allocator's stop.py against a live target through test/helpers/stop-harness.py (a
// stand-in for the protocol core with the same ctx API), for tests of the in-stop half on its own.
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { execRanges } from '../../src/collect/elf-object.js';
import { addressOf, mappedObjects, openObject } from '../../src/allocators/mapped-objects.js';
import type { StopPlan } from '../../src/collect/safe-call/types.js';
import { parseSmaps } from '../../src/parse/smaps.js';
import type { Vma } from '../../src/types.js';
import { REPO_ROOT } from './targets.js';

export interface StopRun {
  ok: boolean;
  error: { kind: string; message: string } | null;
  collect: unknown;
  release: Record<string, unknown> | null;
  thread: number | null;
  calls: number;
  callMs: number;
  rollupBefore: string | null;
  rollupAfter: string | null;
  cleanup: string[];
}

const CORE = ['mmap', 'munmap', 'memfd_create', 'fdopen', 'setvbuf', 'fclose', 'close', 'fputs'];

export async function readMaps(pid: number): Promise<Vma[]> {
  return parseSmaps(await readFile(`/proc/${pid}/maps`, 'latin1'), 'maps');
}

/** libc's functions the core (and mimalloc's stop.py: fputs) calls, and libc's code ranges. */
export async function libcFor(pid: number, maps: Vma[]): Promise<{ addr: Record<string, string>; text: [bigint, bigint][] }> {
  const obj = mappedObjects(maps).find((o) => /\/libc\.so\.6$/.test(o.path));
  if (!obj) throw new Error(`no glibc in ${pid}`);
  const libc = await openObject(pid, obj);
  const addr: Record<string, string> = {};
  for (const n of CORE) addr[n] = addressOf(libc, n)!;
  return { addr, text: execRanges(libc.image, libc.bias) };
}

export async function runStop(pid: number, plan: StopPlan, mode: 'inspect' | 'trim'): Promise<StopRun> {
  const maps = await readMaps(pid);
  const libc = await libcFor(pid, maps);
  const dir = await mkdtemp(join(tmpdir(), 'heapgap-stop-'));
  const hex = (n: bigint) => `0x${n.toString(16)}`;
  try {
    const params = {
      pid, mode, script: plan.script, params: plan.params, resultFile: join(dir, 'result.json'),
      addr: { ...libc.addr, ...(plan.params.addr ?? {}) },
      forbiddenRanges: plan.forbiddenRanges.map(([a, b]) => [hex(a), hex(b)]),
      libcText: libc.text.map(([a, b]) => [hex(a), hex(b)]),
    };
    await writeFile(join(dir, 'params.json'), JSON.stringify(params));
    const exe = await readlink(`/proc/${pid}/exe`);
    const r = await execa('gdb', [
      '-nx', '--batch', '--readnever', '-iex', 'set debuginfod enabled off', '-iex', 'set auto-solib-add off',
      '-iex', 'set auto-load off', '-iex', 'set libthread-db-search-path /nonexistent', '-iex', 'set pagination off',
      '-iex', 'set confirm off', '-iex', `set tdesc filename ${join(REPO_ROOT, 'src/collect/safe-call/amd64-linux-sse.xml')}`,
      '-iex', 'set unwindonsignal on', '-iex', 'handle all nostop noprint pass',
      '-ex', `file ${exe}`, '-ex', `source ${join(REPO_ROOT, 'test/helpers/stop-harness.py')}`,
      '-ex', `attach ${pid}`, '-ex', 'python harness_main()', '-ex', 'detach', '-ex', 'python harness_finish()',
    ], { env: { HEAPGAP_PARAMS: join(dir, 'params.json') }, reject: false, stdin: 'ignore', timeout: 60_000 });
    const text = await readFile(params.resultFile, 'utf8').catch(() => null);
    if (text === null) throw new Error(`gdb left no result (exit ${String(r.exitCode)}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(text) as StopRun;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
