// Debian's redis-server (jemalloc linked dynamically) as a target: started on 127.0.0.1 at a free
// port with persistence off, filled with SETs and half of them deleted through redis-cli --pipe.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { execa } from 'execa';

export const REDIS = '/usr/bin/redis-server';
export const REDIS_CLI = '/usr/bin/redis-cli';

export function redisMissing(): string | null {
  if (!existsSync(REDIS)) return `${REDIS} is missing: apt-get install redis-server`;
  if (!existsSync(REDIS_CLI)) return `${REDIS_CLI} is missing: apt-get install redis-tools`;
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Redis {
  pid: number;
  port: number;
  cli(...args: string[]): Promise<string>;
  /** INFO memory as numbers (allocator_allocated, allocator_active, allocator_resident, used_memory_rss, ...). */
  memory(): Promise<Record<string, number>>;
  /** SET key:<i> to a value of `size` bytes for i in [from, to), through one pipe. */
  fill(from: number, to: number, size: number): Promise<void>;
  /** DEL key:<i> for every i in [from, to) with i % step === 0. */
  del(from: number, to: number, step: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(env: Record<string, string> = {}): Promise<Redis> {
  const port = await freePort();
  const child = execa(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], {
    stdin: 'ignore', buffer: false, reject: false, cleanup: true, forceKillAfterDelay: 3000, env, extendEnv: true,
  });
  const cli = async (...args: string[]) => (await execa(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 60_000 })).stdout;
  const pipe = async (lines: Iterable<string>) => {
    const input = [...lines].join('');
    await execa(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), '--pipe'], { input, timeout: 120_000 });
  };
  for (let i = 0; ; i++) {
    if ((await cli('PING').catch(() => '')) === 'PONG') break;
    if (i > 200) throw new Error('redis-server did not answer PING');
    await new Promise((r) => setTimeout(r, 50));
  }
  const resp = (...parts: string[]) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
  return {
    pid: child.pid!,
    port,
    cli,
    async memory() {
      const text = await cli('INFO', 'memory');
      return Object.fromEntries(text.split(/\r?\n/).map((l) => l.split(':')).filter((p) => p.length === 2 && /^\d+$/.test(p[1]!)).map(([k, v]) => [k!, Number(v)]));
    },
    async fill(from, to, size) {
      const value = 'x'.repeat(size);
      await pipe((function* () { for (let i = from; i < to; i++) yield resp('SET', `key:${i}`, value); })());
    },
    async del(from, to, step) {
      await pipe((function* () { for (let i = from; i < to; i += step) yield resp('DEL', `key:${i}`); })());
    },
    async stop() {
      try { process.kill(child.pid!, 'SIGCONT'); process.kill(child.pid!, 'SIGTERM'); } catch { /* gone */ }
      await child;
    },
  };
}
