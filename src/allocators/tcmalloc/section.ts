/** tcmalloc's part of a capture: stop.py's properties and GetStats text, plus the mappings it owns. */
import { HeapgapError } from '../../errors.js';
import type { Vma } from '../../types.js';
import { hex } from '../../units.js';
import { num, record } from '../common.js';
import { parseTcmallocStats } from './get-stats.js';
import type { TcmallocStatsText } from './get-stats.js';

export interface TcmallocSection {
  object: string;
  /** MallocExtension_GetNumericProperty, by property name (null: the property is unknown to this tcmalloc). */
  properties: Record<string, number | null>;
  /** GetStats' MALLOC: block, or null when it was not printed. */
  statsText: TcmallocStatsText | null;
  /** Mappings with a probe page tcmalloc's page map owns (MallocExtension_GetOwnership). */
  claims: { start: string; end: string; rss: number }[];
  /** Whether ownership could be asked at all. */
  ownershipChecked: boolean;
}

export function tcmallocSection(raw: unknown, object: string, vmas: Vma[]): TcmallocSection {
  const r = record(raw, 'tcmalloc collect result');
  const props = record(r.properties, 'tcmalloc properties');
  const properties = Object.fromEntries(Object.keys(props).map((k) => [k, num(props, k)]));
  if (properties['generic.current_allocated_bytes'] == null || properties['generic.heap_size'] == null) {
    throw new HeapgapError('BAD_INPUT', 'tcmalloc: generic.current_allocated_bytes / generic.heap_size were not read');
  }
  const owned = Array.isArray(r.owned) ? r.owned.filter((a): a is string => typeof a === 'string').map((a) => BigInt(a)) : null;
  const claims = (owned ?? []).flatMap((a) => {
    const v = vmas.find((x) => x.start === a);
    return v ? [{ start: hex(v.start), end: hex(v.end), rss: v.rss }] : [];
  });
  return { object, properties, statsText: typeof r.stats === 'string' ? parseTcmallocStats(r.stats) : null, claims, ownershipChecked: owned !== null };
}
