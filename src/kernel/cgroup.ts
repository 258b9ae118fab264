/**
 * The memory cgroup of a process (contract v2 `cgroup`), from the texts of its control files.
 * Pure: collect/cgroup.ts reads the files. v1 and v2 name the same figures differently.
 */
export interface CgroupReport {
  version: 1 | 2;
  /** The cgroup path as /proc/PID/cgroup gives it. */
  path: string;
  currentBytes: number;
  peakBytes: number | null;
  /** null: no limit. */
  limitBytes: number | null;
  anonBytes: number;
  fileBytes: number;
  /** PSI avg10 percentages (v2 only). */
  pressure: { some10: number; full10: number } | null;
  /** limit - current, or null without a limit. */
  headroomBytes: number | null;
}

/** The memory cgroup lines of /proc/PID/cgroup: the v1 `memory` hierarchy and the v2 unified one. */
export function parseProcCgroup(text: string): { v1: string | null; v2: string | null } {
  let v1: string | null = null;
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else if (m[2]!.split(',').includes('memory')) v1 = m[3]!;
  }
  return { v1, v2 };
}

/** The texts of one cgroup's files; null where the file does not exist. */
export interface CgroupFiles {
  current: string | null;
  peak: string | null;
  limit: string | null;
  stat: string | null;
  pressure: string | null;
}

// v1 writes "no limit" as the largest page-aligned long (9223372036854771712).
const V1_UNLIMITED = 2 ** 62;

export function cgroupReport(version: 1 | 2, path: string, f: CgroupFiles): CgroupReport | null {
  const current = num(f.current);
  if (current === null) return null;
  const stat = parseStat(f.stat ?? '');
  const limitText = f.limit?.trim() ?? null;
  let limit = limitText === null || limitText === 'max' ? null : num(limitText);
  if (limit !== null && limit >= V1_UNLIMITED) limit = null;
  // v1: total_* include child cgroups (what counts against this cgroup's limit); rss/cache is v1's anon/file.
  const anon = version === 2 ? stat.get('anon') : (stat.get('total_rss') ?? stat.get('rss'));
  const file = version === 2 ? stat.get('file') : (stat.get('total_cache') ?? stat.get('cache'));
  return {
    version,
    path,
    currentBytes: current,
    peakBytes: num(f.peak),
    limitBytes: limit,
    anonBytes: anon ?? 0,
    fileBytes: file ?? 0,
    pressure: version === 2 && f.pressure !== null ? parsePressure(f.pressure) : null,
    headroomBytes: limit === null ? null : Math.max(0, limit - current),
  };
}

function num(text: string | null): number | null {
  if (text === null) return null;
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

function parseStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+) (\d+)$/.exec(line.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** memory.pressure: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and a `full` line. */
export function parsePressure(text: string): { some10: number; full10: number } | null {
  const avg = (kind: string) => {
    const m = new RegExp(`^${kind} avg10=([\\d.]+)`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  const some = avg('some');
  return some === null ? null : { some10: some, full10: avg('full') ?? 0 };
}
