#!/usr/bin/env node
// bench-heap-walk.mjs — the glibc heap walk (pinning chunks, page map, trim prediction) on a heap
// of several GiB in millions of chunks, against reading the same heap with no parsing.
//
//   node scripts/bench-heap-walk.mjs [--mib 4096] [--max-size 2048] [--free-every 3] [--reps 3] [--json]
//
// 1. builds and starts fixtures/targets/big-heap.c (one brk heap of `mib` MiB, chunk sizes random
//    below max-size, every free-every-th block freed);
// 2. `reps` times, alternating, each in a fresh node process so its peak RSS (VmHWM) is its own:
//    walk: measureGlibc() from dist/ (mp_ read, main_arena located, the walk, the page map), the way
//          inspect runs it after detach, timed around the call;
//    read: the same heap range read through /proc/PID/mem in 4 MiB blocks, nothing parsed;
//    meanwhile this process polls the target's /proc/PID/stat every 2 ms: a walk must never stop it
//    (state t/T) nor attach to it (TracerPid);
// 3. prints per kind: wall ms, GiB/s of heap covered, peak RSS, and walk/read ratios, plus the
//    walk's own figures (chunks, bytes read) checked against the target's truth line.
// Nothing asserts on time; the goal (>= 1 GiB/s, <= 200 MB peak) is for the reader.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const GiB = 2 ** 30;

if (process.argv[2] === '--child') await child(process.argv[3], Number(process.argv[4]));
else await main(parseArgs(process.argv.slice(2)));

function parseArgs(argv) {
  const o = { mib: 4096, maxSize: 2048, freeEvery: 3, reps: 3, json: false };
  const keys = { '--mib': 'mib', '--max-size': 'maxSize', '--free-every': 'freeEvery', '--reps': 'reps' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] in keys && i + 1 < argv.length) o[keys[argv[i]]] = Number(argv[++i]);
    else if (argv[i] === '--json') o.json = true;
    else {
      console.error('usage: node scripts/bench-heap-walk.mjs [--mib 4096] [--max-size 2048] [--free-every 3] [--reps 3] [--json]');
      process.exit(2);
    }
  }
  return o;
}

async function main(o) {
  const dir = await mkdtemp(join(tmpdir(), 'heapgap-bench-walk-'));
  const bin = join(dir, 'big-heap');
  await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', bin, join(ROOT, 'fixtures', 'targets', 'big-heap.c')]);
  const load0 = loadavg()[0];
  const target = execa(bin, [String(o.mib), String(o.maxSize), String(o.freeEvery)], { stdin: 'ignore', buffer: false, reject: false });
  try {
    const line = await new Promise((ok, bad) => {
      let buf = '';
      target.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) ok(buf.slice(0, buf.indexOf('\n')));
      });
      target.then(() => bad(new Error('big-heap exited before its ready line')));
    });
    const truth = JSON.parse(line);
    const runs = { walk: [], read: [] };
    let stops = 0;
    for (let rep = 0; rep < o.reps; rep++) {
      for (const kind of ['walk', 'read']) {
        const watch = watchState(truth.pid);
        const r = await execa(process.execPath, [SELF, '--child', kind, String(truth.pid)], { reject: false });
        stops += watch.stop();
        if (r.exitCode !== 0) throw new Error(`${kind} child failed: ${r.stderr}`);
        runs[kind].push(JSON.parse(r.stdout));
      }
    }
    report(o, truth, runs, stops, load0);
  } finally {
    target.kill('SIGTERM');
    await target;
    await rm(dir, { recursive: true, force: true });
  }
}

/** Polls the target's state every 2 ms; stop() returns how many samples saw it stopped or traced. */
function watchState(pid) {
  let bad = 0;
  const timer = setInterval(() => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      const tracer = Number(/^TracerPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? 0);
      if (state === 't' || state === 'T' || tracer !== 0) bad++;
    } catch {
      bad++;
    }
  }, 2);
  return { stop: () => (clearInterval(timer), bad) };
}

function report(o, truth, runs, stops, load0) {
  const heapBytes = runs.walk[0].heapBytes;
  const rate = (xs) => summary(xs.map((x) => heapBytes / GiB / (x.ms / 1000)), 2);
  const ms = (xs) => summary(xs.map((x) => x.ms), 0);
  const mb = (xs) => summary(xs.map((x) => x.hwmKiB / 1024), 1);
  const walk = runs.walk[runs.walk.length - 1];
  const out = {
    heap: { mib: heapBytes / 2 ** 20, chunksAllocated: truth.chunks.allocated, chunksFreed: truth.chunks.freed },
    walk: { ms: ms(runs.walk), gibPerSec: rate(runs.walk), peakRssMiB: mb(runs.walk), liveChunks: walk.liveChunks, freeChunks: walk.freeChunks, readMiB: Math.round(walk.readBytes / 2 ** 20), complete: walk.complete },
    read: { ms: ms(runs.read), gibPerSec: rate(runs.read), peakRssMiB: mb(runs.read) },
    walkOverRead: { time: Math.round((ms(runs.walk).median / ms(runs.read).median) * 100) / 100, peakRss: Math.round((mb(runs.walk).median / mb(runs.read).median) * 100) / 100 },
    // Live chunks the walk saw against those the target holds (glibc's own few on top).
    chunksCheck: { targetLive: truth.chunks.allocated - truth.chunks.freed, walkLive: walk.liveChunks },
    targetStoppedSamples: stops,
    loadavg: { start: load0, end: loadavg()[0] },
  };
  const table = [
    ['', 'ms (median)', 'GiB/s', 'peak RSS MiB'],
    ['walk', out.walk.ms.median, out.walk.gibPerSec.median, out.walk.peakRssMiB.median],
    ['read only', out.read.ms.median, out.read.gibPerSec.median, out.read.peakRssMiB.median],
  ].map((r) => r.map((c) => String(c).padStart(14)).join('')).join('\n');
  const text = `heap ${out.heap.mib} MiB, ${truth.chunks.allocated} chunks allocated, ${truth.chunks.freed} freed; load ${load0.toFixed(2)} -> ${out.loadavg.end.toFixed(2)}\n${table}\n` +
    `walk/read: time x${out.walkOverRead.time}, peak RSS x${out.walkOverRead.peakRss}; walk read ${out.walk.readMiB} MiB, saw ${walk.liveChunks} live / ${walk.freeChunks} free chunks (complete: ${walk.complete}); target live ${out.chunksCheck.targetLive}\n` +
    `target seen stopped or traced in ${stops} samples\n`;
  if (o.json) {
    process.stderr.write(text);
    console.log(JSON.stringify(out, null, 2));
  } else {
    process.stdout.write(text);
  }
}

/** In a fresh process: one walk (or one plain read) of the target's [heap]; prints figures as JSON. */
async function child(kind, pid) {
  const dist = (p) => import(join(ROOT, 'dist', p));
  const { ProcMemory } = await dist('collect/memory.js');
  const { parseSmaps } = await dist('parse/smaps.js');
  const vmas = parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'latin1'), 'smaps');
  const heap = vmas.find((v) => v.pathname === '[heap]');
  const memory = await ProcMemory.open(pid);
  const heapBytes = Number(heap.end - heap.start);
  let result;
  if (kind === 'walk') {
    const { measureGlibc } = await dist('allocators/glibc/measure.js');
    const { locateLibc, readLibcImage } = await dist('collect/elf.js');
    const { detectAllocator } = await dist('allocators/detect.js');
    const { layoutFor } = await dist('allocators/glibc/layout.js');
    const guess = detectAllocator(parseSmaps(readFileSync(`/proc/${pid}/maps`, 'latin1'), 'maps'));
    const image = await readLibcImage(await locateLibc(pid, guess.libc));
    const started = performance.now();
    const g = await measureGlibc({ memory, vmas, arenas: [], mallocInfo: '', libcBase: guess.libc.base, image, offsets: layoutFor(image.version, 64 << 20), pad: 0 });
    const ms = performance.now() - started;
    const a = g.arenas[0];
    result = { ms, heapBytes, liveChunks: a?.liveChunks, freeChunks: a?.freeChunks, readBytes: g.walk?.readBytes, complete: a?.complete, problem: a?.problem, params: g.params !== null };
  } else {
    const buf = Buffer.allocUnsafe(4 << 20);
    const started = performance.now();
    let read = 0;
    for (let at = Number(heap.start); at < Number(heap.end); at += buf.length) read += memory.readInto(at, buf, Math.min(buf.length, Number(heap.end) - at));
    result = { ms: performance.now() - started, heapBytes, readBytes: read };
  }
  await memory.close();
  result.hwmKiB = Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'latin1'))[1]);
  console.log(JSON.stringify(result));
}
