/**
 * Timing marks of node's own work for HEAPGAP_DEBUG=1 (scripts/bench-startup.mjs reads them next to
 * gdb's `heapgap-t` marks): "heapgap-n <what> <monotonic s> <node's CPU ms so far>", on the clock of
 * gdb's time.monotonic(). Nothing is written, and nothing costs, without HEAPGAP_DEBUG.
 */
const on = Boolean(process.env.HEAPGAP_DEBUG);

export function mark(what: string): void {
  if (!on) return;
  const cpu = process.cpuUsage();
  process.stderr.write(`heapgap-n ${what} ${(Number(process.hrtime.bigint()) / 1e9).toFixed(6)} ${((cpu.user + cpu.system) / 1000).toFixed(1)}\n`);
}

if (on) process.on('exit', () => mark('exit'));
