import { open, rename, rm } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { HeapgapError, exitCodeFor } from '../errors.js';
import { FORMATS, loadReporter } from '../report/index.js';
import type { Format } from '../report/index.js';
import { ALLOCATORS, SEVERITIES, SEVERITY_RANK } from '../contract.js';
import type { AllocatorName, Severity } from '../contract.js';
import { VERSION } from '../version.js';
import type { Outcome, RunContext } from './context.js';
import { parseBytes, parseDuration, parsePid } from './options.js';
import { controller } from './signals.js';
import { mark } from '../marks.js';

interface CommonOptions {
  format: Format;
  json?: boolean;
  output?: string;
  timeout: number;
  color: boolean;
  failOn?: Severity;
}

function common(cmd: Command, defaultTimeout = 30_000): Command {
  return cmd
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('text'))
    .option('--json', 'same as --format json')
    .option('-o, --output <file>', 'write the report to FILE instead of stdout')
    .option('--timeout <duration>', 'bound on the whole run (e.g. 30s, 2m)', parseDuration, defaultTimeout)
    .option('--no-color', 'no colour in text output (also: NO_COLOR)')
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity').choices(SEVERITIES));
}

/** Runs a command under the run's bounds, renders its outcome, and decides the exit code. */
function action<A extends unknown[]>(run: (ctx: RunContext, opts: CommonOptions & Record<string, unknown>, ...args: A) => Promise<Outcome>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.opts<CommonOptions & Record<string, unknown>>();
    const deadline = Date.now() + opts.timeout;
    const timer = setTimeout(() => controller.abort(new HeapgapError('TIMEOUT', 'timed out')), opts.timeout);
    timer.unref();
    const ctx: RunContext = { signal: controller.signal, deadline, progress: (msg) => process.stderr.write(`heapgap: ${msg}\n`) };
    try {
      const outcome = await run(ctx, opts, ...(args.slice(0, -2) as A));
      const format: Format = opts.json ? 'json' : opts.format;
      const color = opts.color && !process.env.NO_COLOR && !opts.output && process.stdout.isTTY === true;
      mark('rendering');
      const text = outcome.raw ?? (outcome.doc ? (await loadReporter(format))(outcome.doc, { color }) : '');
      await emit(text, opts.output);
      if (opts.failOn && outcome.findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[opts.failOn!])) process.exitCode = 1;
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Writes to stdout, or to a file atomically so a failed run never leaves half a report. Pieces
 * (a capture) are written one after another: the whole text never has to exist at once.
 */
async function emit(text: string | Iterable<string>, output: string | undefined): Promise<void> {
  const pieces = typeof text === 'string' ? [text] : text;
  if (!output) {
    // stdout to a file, pipe or terminal is synchronous on Linux: one write after another
    for (const piece of pieces) process.stdout.write(piece);
    return;
  }
  const tmp = `${output}.heapgap-${process.pid}.tmp`;
  try {
    const file = await open(tmp, 'w');
    try {
      for (const piece of pieces) await file.write(piece);
    } finally {
      await file.close();
    }
    await rename(tmp, output);
  } catch (cause) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new HeapgapError('BAD_INPUT', `cannot write ${output}: ${(cause as Error).message}`, { cause });
  }
}

export function buildProgram(): Command {
  const program = new Command('heapgap')
    .description('Why won\'t Rss drop? Every byte of a live process\'s Rss, arena by arena (glibc malloc).')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `heapgap: ${s.slice(7)}` : s) });

  common(program.command('inspect').argument('<pid>', 'process id', parsePid).description('one snapshot: Rss by layer, every arena joined to its VMAs, the held-but-free gap, findings'))
    .option('--call-budget <duration>', 'how long malloc_info may wait on an allocator lock before it is unwound', parseDuration, 2000)
    .option('--jvm-jcmd', 'for a JVM, also run `jcmd PID VM.info` for its heap, class space and code heap ranges (the JVM does work)')
    .action(action(async (ctx, opts, pid: number) => (await import('./commands/inspect.js')).inspect(pid, ctx, opts.callBudget as number, opts.jvmJcmd === true)));

  common(program.command('trim').argument('<pid>', 'process id', parsePid).description('call malloc_trim(pad) in the target and measure what it returned, arena by arena'))
    .option('--pad <bytes>', 'malloc_trim pad argument', parseBytes, 0)
    .option('--dry-run', 'predict the release from the allocator\'s own figures without calling its release')
    .option('--settle <duration>', 'read Rss again this long after the release (lazily freed pages, THP refill)', parseDuration)
    .addOption(new Option('--allocator <name>', 'whose release call to make when the process has several (default: the one serving malloc)').choices(ALLOCATORS.filter((a) => a !== 'static' && a !== 'unknown')))
    .action(action(async (ctx, opts, pid: number) => (await import('./commands/trim.js')).trim(pid, ctx, { pad: opts.pad as number, dryRun: opts.dryRun === true, settleMs: (opts.settle as number | undefined) ?? 0, ...(opts.allocator ? { allocator: opts.allocator as AllocatorName } : {}) })));

  common(program.command('experiment').argument('<command...>', 'the workload, after --').description('run a command once per MALLOC_ARENA_MAX value and compare peak and final Rss'), 3_600_000)
    .requiredOption('--arena-max <list>', 'comma-separated values, e.g. 1,2,4,default')
    .addOption(new Option('--via <how>', 'set the cap with MALLOC_ARENA_MAX or GLIBC_TUNABLES').choices(['env', 'tunables']).default('env'))
    .option('--repeat <n>', 'runs per value (medians are reported)', (v) => positiveInt(v, '--repeat'), 1)
    .option('--duration <duration>', 'stop the command (SIGTERM, then SIGKILL) after this long', parseDuration)
    .option('--load <shell-command>', 'run this alongside each run, after --warmup')
    .option('--warmup <duration>', 'wait before starting --load', parseDuration, 1000)
    .option('--sample-interval <duration>', 'how often the Rss of the process tree is sampled', parseDuration, 50)
    .action(action(async (ctx, opts, command: string[]) => (await import('./commands/experiment.js')).experiment(command, ctx, {
      arenaMax: opts.arenaMax as string,
      via: opts.via as 'env' | 'tunables',
      repeat: opts.repeat as number,
      durationMs: (opts.duration as number | undefined) ?? null,
      load: (opts.load as string | undefined) ?? null,
      warmupMs: opts.warmup as number,
      sampleMs: opts.sampleInterval as number,
    })));

  common(program.command('capture').argument('<pid>', 'process id', parsePid).description('save everything inspect needs to one file (-o FILE), to be reported elsewhere'))
    .action(action(async (ctx, opts, pid: number) => {
      if (!opts.output) throw new HeapgapError('USAGE', 'capture needs -o FILE', { hint: 'heapgap capture PID -o before.json' });
      const outcome = await (await import('./commands/files.js')).capture(pid, ctx);
      ctx.progress(`captured pid ${pid} to ${opts.output}`);
      return outcome;
    }));

  common(program.command('report').argument('<file>', 'a capture (or inspect --json) file; - for stdin').description('render a capture exactly as inspect would have'))
    .action(action(async (_ctx, _opts, file: string) => (await import('./commands/files.js')).reportFile(file)));

  common(program.command('diff').argument('<before>').argument('<after>').description('what changed between two captures or inspect JSON files, arena by arena'))
    .action(action(async (_ctx, _opts, before: string, after: string) => (await import('./commands/files.js')).diff(before, after)));

  common(program.command('watch').argument('<pid>', 'process id', parsePid).description('Rss per layer and per arena over time, from smaps (no stop); malloc_info only every --malloc-info-every'), 2_147_000_000)
    .option('--interval <duration>', 'time between samples', parseDuration, 2000)
    .option('--malloc-info-every <duration>', 'also call malloc_info (a short stop) this often', parseDuration)
    .option('--count <n>', 'stop after N samples', (v) => positiveInt(v, '--count'))
    .action(action(async (ctx, opts, pid: number) => (await import('./commands/watch.js')).watch(pid, ctx, {
      intervalMs: opts.interval as number,
      mallocInfoEveryMs: (opts.mallocInfoEvery as number | undefined) ?? null,
      count: (opts.count as number | undefined) ?? null,
      format: opts.json === true ? 'json' : opts.format,
    })));

  common(program.command('top').description('every readable process ranked by held-free memory, read without stopping any (estimates)'), 2_147_000_000)
    .option('--limit <n>', 'show the first N processes', (v) => positiveInt(v, '--limit'))
    .option('--cgroup <path>', 'only processes in this cgroup and below (/sys/fs/cgroup/... or /system.slice/x.service)')
    .option('--pid <list>', 'only these processes (comma-separated pids)', (v) => v.split(',').map((x) => parsePid(x.trim())))
    .option('--inspect <n>', 'then run the full inspect (a short stop each) on the first N glibc processes', (v) => positiveInt(v, '--inspect'), 0)
    .option('--interval <duration>', 'refresh period of the live view on a terminal', parseDuration, 2000)
    .option('--count <n>', 'live view: stop after N refreshes', (v) => positiveInt(v, '--count'))
    .action(action(async (ctx, opts) => (await import('./commands/top.js')).top(ctx, {
      limit: (opts.limit as number | undefined) ?? null,
      cgroup: (opts.cgroup as string | undefined) ?? null,
      pids: (opts.pid as number[] | undefined) ?? null,
      inspect: opts.inspect as number,
      live: process.stdout.isTTY === true && !opts.json && opts.format === 'text' && !opts.output && (opts.inspect as number) === 0,
      intervalMs: opts.interval as number,
      count: (opts.count as number | undefined) ?? null,
    })));

  common(program.command('demo').description('start a bundled target that fragments its heap, inspect it, trim it, and show before/after'), 120_000)
    .action(action(async (ctx) => (await import('./commands/demo.js')).demo(ctx)));

  return program;
}

function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${what}: expected a positive integer, got "${value}"`);
  return Number(value);
}

export async function main(argv: string[]): Promise<void> {
  try {
    // A signal while the CLI was still loading: stop before the command starts.
    if (controller.signal.aborted) throw controller.signal.reason;
    mark('program');
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.exitCode = report(error);
  }
}

/** The one place errors become words and exit codes. */
function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    return 2; // commander already printed `heapgap: <message>`
  }
  const known = error instanceof HeapgapError ? error : controller.signal.reason instanceof HeapgapError && controller.signal.aborted ? controller.signal.reason : null;
  // One line each, whatever the message quotes (JSON.parse's messages span lines).
  const line = (text: string) => text.replace(/\s*\n\s*/g, ' ');
  if (known) {
    process.stderr.write(`heapgap: ${line(known.message)}\n`);
    if (known.hint) process.stderr.write(`hint: ${line(known.hint)}\n`);
    return exitCodeFor(known.code);
  }
  process.stderr.write(`heapgap: internal error: ${line((error as Error)?.message ?? 'unknown')}\n`);
  process.stderr.write('hint: this is a bug in heapgap; rerun with HEAPGAP_DEBUG=1 and report the output.\n');
  if (process.env.HEAPGAP_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  return 3;
}

