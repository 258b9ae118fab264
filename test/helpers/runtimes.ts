// Start real runtimes (a JVM, a node server, python) that print one JSON ready line, for the
// runtime-layer tests. Each is stopped (SIGTERM, then SIGKILL) by stop() or at process exit.
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { TARGETS_DIR } from './targets.js';

export interface RuntimeProcess {
  pid: number;
  /** The ready line, parsed. */
  ready: Record<string, unknown>;
  stderr(): string;
  stop(): Promise<void>;
}

const started = new Set<RuntimeProcess>();
process.once('exit', () => {
  for (const p of started) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export async function stopAllRuntimes(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop()));
}

export function haveCommand(path: string): boolean {
  return existsSync(path);
}

export async function startRuntime(cmd: string, args: string[], env: Record<string, string> = {}, readyMs = 60_000): Promise<RuntimeProcess> {
  const proc = execa(cmd, args, { stdin: 'ignore', buffer: false, reject: false, cleanup: true, env, extendEnv: true });
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`could not start ${cmd}`);
  let err = '';
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => {
    if (err.length < 1 << 20) err += d;
  });
  let done = false;
  const finished = proc.then(() => {
    done = true;
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${cmd}: no ready line in ${readyMs} ms; stderr: ${err.slice(0, 2000)}`)), readyMs);
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    void finished.then(() => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited before its ready line; stderr: ${err.slice(0, 2000)}`));
    });
  }).catch(async (e: unknown) => {
    proc.kill('SIGKILL');
    await finished;
    throw e;
  });
  proc.stdout?.resume();
  let stopping: Promise<void> | undefined;
  const p: RuntimeProcess = {
    pid,
    ready: JSON.parse(line) as Record<string, unknown>,
    stderr: () => err,
    stop: () => {
      stopping ??= (async () => {
        if (!done) {
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await finished;
          clearTimeout(t);
        }
        started.delete(p);
      })();
      return stopping;
    },
  };
  started.add(p);
  return p;
}

/** javac a fixtures/targets/*.java into a cache dir once; returns the class path. */
export async function compileJava(name: string): Promise<string> {
  const source = await readFile(join(TARGETS_DIR, `${name}.java`));
  const dir = join(tmpdir(), `heapgap-java-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  await mkdir(dir, { recursive: true });
  if (!existsSync(join(dir, `${name}.class`))) {
    const r = await execa('javac', ['-d', dir, join(TARGETS_DIR, `${name}.java`)], { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new Error(`javac ${name}.java failed: ${r.stderr}`);
  }
  return dir;
}
