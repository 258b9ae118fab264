import { measure } from './ranges.js';
import type { RuntimeAnalysis, RuntimeInput } from './types.js';

// obmalloc's arenas: 1 MiB since 3.10 (256 KiB before), each its own anonymous mmap. The kernel
// merges neighbours, so a run of arenas is one VMA of a multiple of the arena size.
const PYTHON = /(^|\/)(python[23](\.\d+)?|libpython[23]\.\d+\.so[.\d]*)$/;

export function recogniseCpython(input: RuntimeInput): RuntimeAnalysis | null {
  const { vmas, base } = input;
  const bin = vmas.find((v) => PYTHON.test(v.pathname));
  if (!bin) return null;
  const minor = Number(/python[23]\.(\d+)/.exec(bin.pathname)?.[1] ?? 99);
  const arena = minor >= 10 ? 1024 * 1024 : 256 * 1024;
  const arenas: number[] = [];
  vmas.forEach((v, i) => {
    if (base[i] === 'anon-other' && v.pathname === '' && v.perms === 'rw-p' && v.size % arena === 0) arenas.push(i);
  });
  const notes = [`obmalloc arenas are ${arena / 1024} KiB anonymous mmaps (Python 3.${minor === 99 ? '?' : minor}); heapgap counts VMAs of whole arenas`];
  const regions = arenas.length ? [{ ...measure(vmas, arenas, 'obmalloc arenas', 'python-obmalloc'), committedBytes: null }] : [];
  const claims = arenas.map((i) => ({ start: vmas[i]!.start, end: vmas[i]!.end, category: 'python-obmalloc' as const, rss: vmas[i]!.rss }));
  return { report: { runtime: 'cpython', evidence: bin.pathname, version: minor === 99 ? null : `3.${minor}`, regions, notes }, claims, findings: [] };
}
