/**
 * /proc/PID/task/TID/syscall: "running", or the syscall number, six arguments, the stack pointer and
 * the program counter of a thread blocked in a system call.
 */
export type ThreadSyscall = { blocked: false } | { blocked: true; nr: number; sp: bigint; pc: bigint };

export function parseSyscall(text: string): ThreadSyscall {
  const parts = text.trim().split(' ');
  if (parts.length < 9 || !/^\d+$/.test(parts[0]!) || !/^0x[0-9a-f]+$/.test(parts[7]!) || !/^0x[0-9a-f]+$/.test(parts[8]!)) return { blocked: false };
  return { blocked: true, nr: Number(parts[0]), sp: BigInt(parts[7]!), pc: BigInt(parts[8]!) };
}
