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
  let merged = 0;
  let found = 0;
  vmas.forEach((v, i) => {
    if (base[i] !== 'anon-other' || v.pathname !== '' || v.perms !== 'rw-p' || v.size < arena) return;
    const whole = Math.floor(v.size / arena);
    // a run of arenas the kernel merged with a small neighbouring mapping: mostly arenas, taken whole
    if (v.size % arena !== 0 && whole * arena < 0.75 * v.size) return;
    if (v.size % arena !== 0) merged += v.size - whole * arena;
    found += whole;
    arenas.push(i);
  });
  const notes = [`${found} obmalloc arenas of ${arena / 1024} KiB (anonymous mmaps, Python 3.${minor === 99 ? '?' : minor})${merged > 0 ? `; ${merged} bytes of neighbouring mappings the kernel merged with them are counted too` : ''}`];
  const regions = arenas.length ? [measure(vmas, arenas, 'obmalloc arenas', 'python-obmalloc', { committedBytes: found * arena, source: 'arenas counted in maps' })] : [];
  const claims = arenas.map((i) => ({ start: vmas[i]!.start, end: vmas[i]!.end, category: 'python-obmalloc' as const, rss: vmas[i]!.rss }));
  return { report: { runtime: 'cpython', evidence: bin.pathname, version: minor === 99 ? null : `3.${minor}`, regions, notes }, claims, findings: [] };
}
