// Run the built heapgap CLI (dist/cli/main.js) as a child process.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export { procState, procFds } from './proc.js';
export type { ProcState } from './proc.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_PATH = join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface RunCliOptions {
  /** Added to the environment (after NO_COLOR=1; FORCE_COLOR is removed unless given here). */
  env?: Record<string, string>;
  /** Kill the CLI after this many ms (default 60 000). */
  timeout?: number;
  /** Written to the CLI's stdin; without it stdin is /dev/null. */
  input?: string;
  /** Working directory (default: the repo root). */
  cwd?: string;
}

export interface CliResult {
  /** Exit status; -1 if the CLI was killed by a signal (see `signal`) or timed out. */
  exitCode: number;
  /** Exactly what the CLI wrote (final newline kept). */
  stdout: string;
  stderr: string;
  signal: string | undefined;
  timedOut: boolean;
  durationMs: number;
}

/**
 * `dist/cli/main.js ...args` run as a command, as users run it (its sh line then starts node), with
 * NO_COLOR=1; never rejects on a non-zero exit.
 */
export async function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} not found: run "npm run build" first`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'FORCE_COLOR') env[k] = v;
  env['NO_COLOR'] = '1';
  Object.assign(env, opts.env);
  const started = Date.now();
  const r = await execa(CLI_PATH, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    extendEnv: false,
    reject: false,
    timeout: opts.timeout ?? 60_000,
    stripFinalNewline: false,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  });
  return {
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    signal: r.signal,
    timedOut: r.timedOut,
    durationMs: Date.now() - started,
  };
}

/**
 * The CLI as a child the test can signal: `on` sees stderr as it arrives (and the child, to kill it).
 * Resolves like runCli; SIGKILLed (timedOut) after `boundMs`.
 */
export function spawnCli(args: string[], on?: (stderrSoFar: string, child: ChildProcessWithoutNullStreams) => void, opts: { env?: Record<string, string>; boundMs?: number } = {}): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(CLI_PATH, args, { cwd: REPO_ROOT, env: { ...process.env, ...opts.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    on?.(stderr, child);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.boundMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? -1, signal: signal ?? undefined, stdout, stderr, timedOut: signal === 'SIGKILL', durationMs: Date.now() - started });
    });
  });
}
