import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { HeapgapError } from '../errors.js';

/** "30s", "500ms", "2m", "1h" or plain seconds -> milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 30s, 500ms or 2m, got "${value}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  if (ms <= 0) throw new InvalidArgumentError(`a duration must be positive, got "${value}"`);
  return ms;
}

/** "1048576", "64K", "16MiB", "1G" -> bytes. */
export function parseBytes(value: string): number {
  const m = /^(\d+)\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a byte count like 0, 65536 or 16MiB, got "${value}"`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2]?.[0]?.toLowerCase() ?? '') as 'k' | 'm' | 'g'] ?? 1;
  return Number(m[1]) * mult;
}

export function parsePid(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError(`expected a process id (a positive integer), got "${value}"`);
  }
  const max = pidMax();
  // A pid the kernel can never hand out is well-formed, and no process has it: say why, as ps does.
  if (Number(value) >= max) {
    throw new HeapgapError('NO_SUCH_PROCESS', `no process with pid ${value}: it is beyond this kernel's pid limit (kernel.pid_max = ${max})`, { hint: 'check the pid (pgrep -a NAME); inside a container, pids are those of its own namespace.' });
  }
  return Number(value);
}

/** kernel.pid_max: pids are below it (4194304 at most on 64-bit). */
function pidMax(): number {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1').trim());
    return Number.isInteger(n) && n > 0 ? n : 4194304;
  } catch {
    return 4194304;
  }
}
