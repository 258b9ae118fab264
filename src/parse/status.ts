import type { ProcStatus } from '../types.js';
import { HeapgapError, excerpt } from '../errors.js';

/** Parses /proc/PID/status. Only the fields heapgap needs are required. */
export function parseStatus(text: string, source = 'status'): ProcStatus {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) map.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const need = (key: string): string => {
    const value = map.get(key);
    if (value === undefined) {
      throw new HeapgapError('BAD_INPUT', `${source}: expected a \`${key}:\` line, got ${excerpt(text)}`);
    }
    return value;
  };
  // A whole field must be digits: parseInt would read "12abc" as 12 and "x" as NaN.
  const digits = (key: string, value: string): number => {
    if (!/^\d{1,15}$/.test(value)) throw new HeapgapError('BAD_INPUT', `${source}: ${key} is not a number: ${excerpt(value)}`);
    return Number(value);
  };
  const int = (key: string): number => digits(key, need(key));
  const hex = (key: string): bigint => {
    const value = map.get(key);
    if (value === undefined || !/^[0-9a-f]+$/i.test(value)) return 0n;
    return BigInt(`0x${value}`);
  };
  const kb = map.get('VmRSS');
  return {
    name: need('Name'),
    state: need('State').charAt(0),
    tgid: int('Tgid'),
    tracerPid: int('TracerPid'),
    uid: digits('Uid', need('Uid').split(/\s+/)[0] ?? ''),
    threads: int('Threads'),
    sigPnd: hex('SigPnd'),
    shdPnd: hex('ShdPnd'),
    sigBlk: hex('SigBlk'),
    sigIgn: hex('SigIgn'),
    sigCgt: hex('SigCgt'),
    seccomp: map.has('Seccomp') ? int('Seccomp') : 0,
    capEff: hex('CapEff'),
    vmRss: kb === undefined ? null : digits('VmRSS', kb.replace(/ kB$/, '')) * 1024,
  };
}

/** True when signal `sig` (1-based) is set in a SigBlk/SigCgt mask. */
export function hasSignal(mask: bigint, sig: number): boolean {
  return ((mask >> BigInt(sig - 1)) & 1n) === 1n;
}
