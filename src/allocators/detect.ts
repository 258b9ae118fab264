import type { Allocator, Vma } from '../types.js';

export interface AllocatorGuess {
  allocator: Allocator;
  /** The glibc shared object and its load bias, when there is one. */
  libc: { path: string; base: bigint; start: bigint; end: bigint; dev: string; inode: number } | null;
  /** The library that gave the allocator away, for messages. */
  evidence: string | null;
}

const LIBC = /\/libc(-[\d.]+)?\.so(\.6)?$/;
const OTHERS: [RegExp, Allocator][] = [
  [/\/libjemalloc[^/]*\.so/, 'jemalloc'],
  [/\/libtcmalloc[^/]*\.so/, 'tcmalloc'],
  [/\/libmimalloc[^/]*\.so/, 'mimalloc'],
  [/\/ld-musl-[^/]*\.so|\/libc\.musl[^/]*\.so/, 'musl'],
];

/** Which malloc serves the process, from what it has mapped (reference: "Before and after"). */
export function detectAllocator(vmas: Vma[]): AllocatorGuess {
  let libc: AllocatorGuess['libc'] = null;
  for (const vma of vmas) {
    for (const [pattern, allocator] of OTHERS) {
      if (pattern.test(vma.pathname)) return { allocator, libc: null, evidence: vma.pathname };
    }
    const path = vma.pathname.replace(/ \(deleted\)$/, '');
    if (!libc && LIBC.test(path) && vma.offset === 0n) libc = { path, base: vma.start, start: vma.start, end: vma.end, dev: vma.dev, inode: vma.inode };
  }
  if (libc) return { allocator: 'glibc', libc, evidence: libc.path };
  const hasSharedObjects = vmas.some((v) => /\.so(\.\d+)*$/.test(v.pathname));
  return { allocator: hasSharedObjects ? 'unknown' : 'static', libc: null, evidence: null };
}
