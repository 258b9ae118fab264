/** glibc malloc's constants and struct offsets on x86-64 (reference: glibc-malloc.md §5). */
export const PAGE = 4096;
/** The smallest chunk. */
export const MINSIZE = 32;
/** sizeof(struct malloc_chunk): mtrim never touches a free chunk's first bytes. */
export const CHUNK_KEEP = 48;
/** HEAP_MAX_SIZE on 64-bit unless glibc.malloc.hugetlb >= 2 makes it larger. */
export const DEFAULT_HEAP_MAX = 64 * 1024 * 1024;

/** Where the fields heapgap reads sit in malloc_state and heap_info. */
export interface StructLayout {
  heapMax: number;
  heapInfoSize: number;
  top: number;
  next: number;
  systemMem: number;
}

/** malloc_state / heap_info offsets; null where heapgap does not know them (the join is then inferred). */
export function layoutFor(version: string | null, heapMax: number): StructLayout | null {
  if (!version) return null;
  const heapInfoSize = versionAtLeast(version, 2, 35) ? 48 : 32;
  if (versionAtLeast(version, 2, 27) && !versionAtLeast(version, 2, 43)) return { heapMax, heapInfoSize, top: 96, next: 2160, systemMem: 2184 };
  if (versionAtLeast(version, 2, 23)) return { heapMax, heapInfoSize, top: 88, next: 2152, systemMem: 2176 };
  return null;
}

export function versionAtLeast(version: string | null, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  return m !== null && (Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor));
}
