import { measure, parseSize } from './ranges.js';
import type { RuntimeAnalysis, RuntimeClaim, RuntimeInput } from './types.js';

// V8 allocates its heap in pages of 256 KiB (kRegularPageSize), each mmapped at a 256 KiB-aligned
// address; large objects get pages of their own size from the same aligned allocator.
const PAGE = 256n * 1024n;
const NODE = /(^|\/)(node|nodejs)(\d+)?$|\/libnode\.so[.\d]*$/;

/**
 * V8 (node): anonymous mappings that start on a 256 KiB boundary are V8 pages (merged neighbours
 * included); in the code range, the rwx code pages with their guard and header pieces. V8 itself
 * is not asked (that needs the isolate), so the report gives what maps say plus node's flags.
 */
export function recogniseV8(input: RuntimeInput): RuntimeAnalysis | null {
  const { vmas, base, facts } = input;
  const bin = vmas.find((v) => NODE.test(v.pathname));
  if (!bin) return null;
  const free = (i: number) => base[i] === 'anon-other' && vmas[i]!.pathname === '';
  const pages: number[] = [];
  const code = new Set<number>();
  vmas.forEach((v, i) => {
    if (!free(i)) return;
    if (v.perms === 'rwxp' || v.perms === 'r-xp') {
      // a code page: the whole 256 KiB window around the executable part
      const lo = v.start - (v.start % PAGE);
      const hi = v.end + ((PAGE - (v.end % PAGE)) % PAGE);
      for (let j = i; j >= 0 && vmas[j]!.start >= lo && free(j); j--) code.add(j);
      for (let j = i + 1; j < vmas.length && vmas[j]!.end <= hi && free(j); j++) code.add(j);
    } else if (v.start % PAGE === 0n && (v.size % Number(PAGE) === 0 || v.perms.startsWith('rw'))) pages.push(i);
  });
  const heap = pages.filter((i) => !code.has(i));
  const regions = [];
  const flags = nodeFlags(facts?.cmdline ?? []);
  if (heap.length) regions.push(measure(vmas, heap, 'v8 heap pages (new, old, large objects)', 'v8-heap', { maxBytes: flags.maxOld, source: flags.maxOld === null ? null : '--max-old-space-size' }));
  if (code.size) regions.push(measure(vmas, [...code], 'v8 code pages', 'v8-heap'));
  const claims: RuntimeClaim[] = [...heap, ...code].sort((a, b) => a - b).map((i) => ({ start: vmas[i]!.start, end: vmas[i]!.end, category: 'v8-heap', rss: vmas[i]!.rss }));
  return { report: { runtime: 'v8', evidence: bin.pathname, version: null, regions, notes: [] }, claims, findings: [] };
}

function nodeFlags(cmdline: string[]): { maxOld: number | null } {
  const v = cmdline.map((a) => /^--max[-_]old[-_]space[-_]size=(\d+)$/.exec(a)?.[1]).filter((x) => x !== undefined).pop();
  return { maxOld: v === undefined ? null : parseSize(v, 1024 * 1024) };
}
