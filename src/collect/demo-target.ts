import { createHash } from 'node:crypto';
import { mkdir, readFile, access } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { HeapgapError } from '../errors.js';
import { packagePath } from '../paths.js';

const SOURCE = packagePath('fixtures', 'targets', 'fragmenter.c');
const PRELUDE = packagePath('fixtures', 'targets', 'prelude.h');

/** Builds (once, cached by source hash) and starts the bundled demo target; waits for its ready line. */
export async function demoTarget(ctx: { signal: AbortSignal; progress: (msg: string) => void }): Promise<{ pid: number; stop: () => Promise<void> }> {
  const hash = createHash('sha256').update(await readFile(SOURCE)).update(await readFile(PRELUDE)).digest('hex').slice(0, 12);
  const dir = join(process.env.XDG_CACHE_HOME ?? (homedir() ? join(homedir(), '.cache') : tmpdir()), 'heapgap');
  const binary = join(dir, `fragmenter-${hash}`);
  if (!(await access(binary).then(() => true, () => false))) {
    await mkdir(dir, { recursive: true });
    ctx.progress('building the demo target');
    const cc = await execa('gcc', ['-O1', '-g0', '-pthread', '-o', binary, SOURCE], { reject: false });
    if (cc.exitCode !== 0) {
      const missing = (cc as { code?: string }).code === 'ENOENT' || cc.exitCode === undefined;
      throw new HeapgapError('GDB_MISSING', missing ? 'no C compiler (gcc) to build the demo target' : `gcc failed: ${String(cc.stderr).split('\n')[0]}`, { hint: 'install it: apt-get install gcc' });
    }
  }
  const child = execa(binary, [], { reject: false, stdin: 'ignore', stderr: 'ignore', cancelSignal: ctx.signal });
  const pid = await new Promise<number>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new HeapgapError('TIMEOUT', 'the demo target did not get ready within 30 s')), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      const line = seen.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { pid: number }).pid);
      }
    });
    child.on('exit', () => reject(new HeapgapError('GDB_FAILED', 'the demo target exited before it was ready')));
  });
  return {
    pid,
    stop: async () => {
      child.kill('SIGTERM');
      await child;
    },
  };
}
