/** Every problem heapgap knows how to explain. The CLI maps the code to an exit status. */
export type ErrorCode =
  | 'USAGE'
  | 'BAD_INPUT'
  | 'NO_SUCH_PROCESS'
  | 'PROCESS_GONE'
  | 'PTRACE_DENIED'
  | 'ALREADY_TRACED'
  | 'TARGET_STOPPED'
  | 'KERNEL_THREAD'
  | 'GDB_MISSING'
  | 'GDB_FAILED'
  | 'UNSUPPORTED_ALLOCATOR'
  | 'UNSUPPORTED_PLATFORM'
  | 'NO_SAFE_THREAD'
  | 'TARGET_BUSY'
  | 'ARENA_BUSY'
  | 'HEAP_CORRUPT'
  | 'HEAP_UNCHECKED'
  | 'CALL_FAILED'
  | 'ATTACH_STALLED'
  | 'CALL_TIMEOUT'
  | 'INTERRUPTED'
  | 'TIMEOUT';

export class HeapgapError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'HeapgapError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** Exit status per the contract: 2 for what the user gave us, 3 for the target or the host. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'BAD_INPUT':
      return 2;
    case 'INTERRUPTED':
      return 130;
    default:
      return 3;
  }
}

/** A short, printable excerpt of untrusted input for error messages. */
export function excerpt(text: unknown, max = 60): string {
  const flat = String(text).replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}…` : flat);
}
