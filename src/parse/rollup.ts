import { HeapgapError, excerpt } from '../errors.js';

/** /proc/PID/smaps_rollup: the whole process's smaps figures, summed by the kernel. Bytes. */
export interface Rollup {
  rss: number;
  pss: number;
  anonymous: number;
  lazyFree: number;
  anonHugePages: number;
  swap: number;
  privateClean: number;
  privateDirty: number;
}

const FIELDS = { Rss: 'rss', Pss: 'pss', Anonymous: 'anonymous', LazyFree: 'lazyFree', AnonHugePages: 'anonHugePages', Swap: 'swap', Private_Clean: 'privateClean', Private_Dirty: 'privateDirty' } as const;

export function parseRollup(text: string, source = 'smaps_rollup'): Rollup {
  const out: Partial<Rollup> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    const key = m ? FIELDS[m[1] as keyof typeof FIELDS] : undefined;
    if (key) out[key] = Number(m![2]) * 1024;
  }
  for (const key of Object.values(FIELDS)) {
    // LazyFree and AnonHugePages are missing on some kernels: zero then; Rss is not optional.
    if (out[key] === undefined) {
      if (key === 'rss') throw new HeapgapError('BAD_INPUT', `${source}: expected an "Rss: N kB" line, got ${excerpt(text)}`);
      out[key] = 0;
    }
  }
  return out as Rollup;
}
