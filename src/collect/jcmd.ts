import { vmInfoExcerpt } from '../runtimes/jvm/vm-info.js';

/**
 * `jcmd PID VM.info`, only when the user passed --jvm-jcmd: it makes the JVM run a diagnostic
 * command (a safepoint-free attach, but work in the target all the same). The target is running
 * (heapgap has detached). Returns the lines heapgap reads, or a note saying why there are none.
 */
export async function jcmdVmInfo(pid: number, timeoutMs: number): Promise<{ text: string } | { note: string }> {
  // loaded here, not with the snapshot: execa is 250 KB of code every inspect would compile for nothing
  const { execa } = await import('execa');
  const r = await execa('jcmd', [String(pid), 'VM.info'], { reject: false, stdin: 'ignore', timeout: Math.max(1000, timeoutMs) });
  const text = vmInfoExcerpt(String(r.stdout ?? ''));
  if (r.exitCode === 0 && text !== '') return { text };
  const why = r.timedOut ? 'timed out' : (r as { code?: string }).code === 'ENOENT' ? 'jcmd is not installed' : String(r.stdout || r.stderr).split('\n').filter(Boolean).pop() ?? `exit ${String(r.exitCode)}`;
  return { note: `--jvm-jcmd: jcmd ${pid} VM.info gave no ranges (${why}); ranges from hsperfdata and mapping shapes. jcmd must run as the JVM's user, in its PID namespace` };
}
