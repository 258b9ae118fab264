/**
 * /proc/PID/stat and /proc/PID/task/TID/stat: the fields heapgap reads. The command name sits in
 * parentheses and may itself hold spaces and parentheses, so fields are counted from the last ')'.
 */
export interface ProcStat {
  /** R, S, D, T, t, Z, X, ... */
  state: string;
  /** The parent's pid. */
  ppid: number;
  /** PF_* flags (PF_KTHREAD = 0x00200000). */
  flags: number;
  /** User and system CPU time, in clock ticks. */
  utime: number;
  stime: number;
  /** Reaped children's user and system time, in clock ticks. */
  cutime: number;
  cstime: number;
  /** Start time in clock ticks since boot, as text: with the pid, it tells a reused pid apart. */
  startTime: string;
  /** Field 52 (Linux 3.5+): once the process has exited (a zombie), its status as waitpid(2) gives it; 0 before; null without the field. */
  exitCode: number | null;
}

export const PF_KTHREAD = 0x00200000;

/** null for an empty or malformed line (a process that went away while being read). */
export function parseStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // fields[0] is field 3 (state) of proc(5)
  const f = text.slice(close + 2).trim().split(' ');
  if (f.length < 20) return null;
  const n = (i: number) => Number(f[i] ?? NaN);
  return { state: f[0]!, ppid: n(1), flags: n(6), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14), startTime: f[19]!, exitCode: f.length > 49 ? n(49) : null };
}
