/** jemalloc's part of a capture: what stop.py's collect() read with mallctl, checked and typed. */
import { HeapgapError } from '../../errors.js';
import { num, record } from '../common.js';

export interface JemallocArenaRaw {
  index: number;
  nthreads: number;
  pactive: number;
  pdirty: number;
  pmuzzy: number;
  mapped: number | null;
  retained: number | null;
  resident: number | null;
  tcacheBytes: number | null;
  smallAllocated: number | null;
  largeAllocated: number | null;
}

export interface JemallocSection {
  /** Where its mallctl lives, and the prefix of a static copy ("je_" for upstream redis). */
  object: string;
  prefix: string;
  configStats: boolean;
  version: string | null;
  page: number;
  narenas: number;
  allocated: number;
  active: number;
  resident: number;
  mapped: number;
  retained: number;
  metadata: number;
  /** stats.arenas.4096.*: all arenas merged. */
  pdirty: number;
  pmuzzy: number;
  pactive: number | null;
  tcacheBytes: number | null;
  opt: { dirtyDecayMs: number | null; muzzyDecayMs: number | null; backgroundThread: boolean | null; narenas: number | null; retain: boolean | null; tcache: boolean | null; thp: string | null; percpuArena: string | null; dss: string | null; tcacheMax: number | null };
  /** background_thread: whether background purging threads run now. */
  backgroundThread: boolean | null;
  arenas: JemallocArenaRaw[];
  /** Arenas whose figures were read: at most stop.py's arenaLimit. */
  arenasRead: number;
  errors: Record<string, number>;
}

const bool = (v: unknown) => (typeof v === 'boolean' ? v : null);
const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** stop.py's dict -> the section. Throws BAD_INPUT when it is not jemalloc's collect() result. */
export function jemallocSection(raw: unknown, where: { object: string; prefix: string }): JemallocSection {
  const r = record(raw, 'jemalloc collect result');
  const need = (key: string): number => {
    const v = num(r, key);
    if (v === null || v < 0) throw new HeapgapError('BAD_INPUT', `jemalloc: mallctl "${key}" was not read (${String(r[key])})`);
    return v;
  };
  if (r.configStats === false) {
    throw new HeapgapError('UNSUPPORTED_ALLOCATOR', 'this jemalloc was built without statistics (config.stats is false)', { hint: 'rebuild it with --enable-stats (the default) to see its figures; Rss is still shown from smaps.' });
  }
  const arenas = Array.isArray(r.arenas) ? r.arenas : [];
  return {
    ...where,
    configStats: true,
    version: str(r.version),
    page: need('arenas.page'),
    narenas: need('arenas.narenas'),
    allocated: need('stats.allocated'),
    active: need('stats.active'),
    resident: need('stats.resident'),
    mapped: need('stats.mapped'),
    retained: need('stats.retained'),
    metadata: need('stats.metadata'),
    pdirty: need('stats.arenas.4096.pdirty'),
    pmuzzy: need('stats.arenas.4096.pmuzzy'),
    pactive: num(r, 'stats.arenas.4096.pactive'),
    tcacheBytes: num(r, 'stats.arenas.4096.tcache_bytes'),
    opt: {
      dirtyDecayMs: num(r, 'opt.dirty_decay_ms'),
      muzzyDecayMs: num(r, 'opt.muzzy_decay_ms'),
      backgroundThread: bool(r['opt.background_thread']),
      narenas: num(r, 'opt.narenas'),
      retain: bool(r['opt.retain']),
      tcache: bool(r['opt.tcache']),
      thp: str(r['opt.thp']),
      percpuArena: str(r['opt.percpu_arena']),
      dss: str(r['opt.dss']),
      tcacheMax: num(r, 'opt.tcache_max'),
    },
    backgroundThread: bool(r.background_thread),
    arenas: arenas.map((a, i) => arenaRaw(record(a, `jemalloc arena ${i}`))).filter((a): a is JemallocArenaRaw => a !== null),
    arenasRead: num(r, 'arenasRead') ?? arenas.length,
    errors: Object.fromEntries(Object.entries(record(r.errors ?? {}, 'jemalloc errors')).filter(([, v]) => typeof v === 'number')) as Record<string, number>,
  };
}

function arenaRaw(a: Record<string, unknown>): JemallocArenaRaw | null {
  const [index, nthreads, pactive, pdirty, pmuzzy] = ['index', 'nthreads', 'pactive', 'pdirty', 'pmuzzy'].map((k) => num(a, k));
  if (index == null || nthreads == null || pactive == null || pdirty == null || pmuzzy == null) return null;
  return {
    index, nthreads, pactive, pdirty, pmuzzy,
    mapped: num(a, 'mapped'), retained: num(a, 'retained'), resident: num(a, 'resident'), tcacheBytes: num(a, 'tcache_bytes'),
    smallAllocated: num(a, 'small.allocated'), largeAllocated: num(a, 'large.allocated'),
  };
}
