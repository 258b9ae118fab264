#!/usr/bin/env node
// bench-scale.mjs — heapgap on a big process: ~60,000 VMAs and 64 thread arenas of 3 heaps each.
//
//   node scripts/bench-scale.mjs [--vmas 60000] [--threads 64] [--mb 160] [--reps 3] [--parse-reps 5]
//                                [--arenas-xml 1000] [--json]
//
// In one run:
//  1. builds and starts fixtures/targets/many-vmas.c with MALLOC_ARENA_MAX=threads+1 (raising
//     vm.max_map_count with sysctl when the VMAs would not fit, and restoring it at the end);
//  2. `reps` times, alternating: `pmap -X PID` and `heapgap inspect PID --json` (both under
//     /usr/bin/time -f %M when installed), wall time from spawn to exit; heapgap's peak RSS twice:
//     the node process's own VmHWM (read from /proc/self/status at exit through a --import hook)
//     and /usr/bin/time's maxrss (the larger of node and the gdb it waited for);
//  3. parse throughput, in this process, medians of parse-reps runs after one warm-up:
//     parseSmaps (dist/parse/smaps.js) on the target's smaps text vs text.split('\n') on the same
//     text; parseMallocInfo (dist/allocators/glibc/malloc-info.js) on a synthetic malloc_info XML of
//     `arenas-xml` heaps, built from the target's real one (taken with `heapgap capture`), vs
//     text.split('\n') on that XML; the same two from files written to the temp dir (smaps read
//     through readEach's 64 KiB buffer and fed to SmapsParser, the code inspect runs on
//     /proc/PID/smaps, where reads come a page at a time; the XML read whole, as report does),
//     against reading those files alone; also analyse() of the capture.
//  4. last, as it changes the target: one `heapgap trim PID --json` (its stop reads smaps twice).
// Prints a table and, with --json, everything as JSON on stdout. Nothing asserts on time.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const MAP_COUNT = '/proc/sys/vm/max_map_count';
// Loaded into the heapgap node process with --import: writes its own VmHWM (KiB) to $BENCH_HWM_FILE.
const HWM_HOOK = `data:text/javascript,${encodeURIComponent(
  'import{readFileSync,writeFileSync}from"node:fs";process.on("exit",()=>{const f=process.env.BENCH_HWM_FILE;' +
    'if(f){const m=/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status","latin1"));writeFileSync(f,m?m[1]:"")}});',
)}`;

function parseArgs(argv) {
  const o = { vmas: 60000, threads: 64, mb: 160, reps: 3, parseReps: 5, arenasXml: 1000, json: false };
  const keys = { '--vmas': 'vmas', '--threads': 'threads', '--mb': 'mb', '--reps': 'reps', '--parse-reps': 'parseReps', '--arenas-xml': 'arenasXml' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a in keys && i + 1 < argv.length) {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) fail(`${a}: expected a positive integer, got ${argv[i]}`);
      o[keys[a]] = n;
    } else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  return o;
}
const USAGE = 'usage: node scripts/bench-scale.mjs [--vmas 60000] [--threads 64] [--mb 160] [--reps 3] [--parse-reps 5] [--arenas-xml 1000] [--json]';

function fail(msg) {
  console.error(`bench-scale: ${msg}\n${USAGE}`);
  process.exit(2);
}
const log = (msg) => process.stderr.write(`bench-scale: ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const r1 = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);
// parse time / baseline time, or null when the baseline is below the timer's useful resolution
const ratioOf = (parse, base) => (parse.median !== null && base.median >= 0.05 ? r1(parse.median / base.median) : null);
const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);

const stats = (xs) => summary(xs, 3);

function meminfo() {
  const text = readFileSync('/proc/meminfo', 'latin1');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { totalGiB: r1(kb('MemTotal') / 2 ** 20), availableGiB: r1(kb('MemAvailable') / 2 ** 20) };
}

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { state: /^State:\s+(\S)/m.exec(s)?.[1] ?? '?', rssMiB: r1(kb('VmRSS') / 1024), vmSizeGiB: r1(kb('VmSize') / 2 ** 20) };
  } catch {
    return null;
  }
}

async function setMapCount(value) {
  const r = await execa('sysctl', ['-w', `vm.max_map_count=${value}`], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    try {
      await writeFile(MAP_COUNT, `${value}\n`);
    } catch (cause) {
      throw new Error(`cannot set vm.max_map_count=${value} (${r.stderr.trim() || cause.message}); run as root or lower --vmas`);
    }
  }
}

/** Times fn() in this process: one warm-up, then `reps` timed runs; returns the median ms. */
function timeIt(fn, reps) {
  fn();
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

/** A malloc_info document with `n` heaps: the real heap 0, then the real thread heaps over and over. */
function syntheticMallocInfo(real, n) {
  const heaps = [...real.matchAll(/<heap nr="(\d+)">[\s\S]*?<\/heap>\n?/g)].map((m) => m[0]);
  if (heaps.length < 2) throw new Error(`the real malloc_info has ${heaps.length} heap(s); need a thread arena to copy`);
  const first = real.indexOf(heaps[0]);
  const lastEnd = real.lastIndexOf('</heap>') + '</heap>'.length;
  const head = real.slice(0, first);
  const tail = real.slice(lastEnd).replace(/^\n/, '');
  const body = [heaps[0]];
  for (let i = 1; i < n; i++) body.push(heaps[1 + ((i - 1) % (heaps.length - 1))].replace(/<heap nr="\d+">/, `<heap nr="${i}">`));
  return `${head}${body.map((h) => (h.endsWith('\n') ? h : `${h}\n`)).join('')}${tail}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) fail('dist/cli/main.js is missing; build first: npx tsc -p tsconfig.json');
  const { parseSmaps, SmapsParser } = await import(pathToFileURL(join(ROOT, 'dist', 'parse', 'smaps.js')).href);
  const { readEach } = await import(pathToFileURL(join(ROOT, 'dist', 'collect', 'procfs.js')).href);
  const { parseMallocInfo } = await import(pathToFileURL(join(ROOT, 'dist', 'allocators', 'glibc', 'malloc-info.js')).href);
  const { parseDocument } = await import(pathToFileURL(join(ROOT, 'dist', 'parse', 'capture.js')).href);
  const { analyse } = await import(pathToFileURL(join(ROOT, 'dist', 'analyse', 'inspect.js')).href);

  const mem = meminfo();
  // Rss of the target: one page per VMA plus about one page per 120 KiB chunk.
  const expectRssGiB = (opts.vmas * 4096 + opts.threads * opts.mb * 2 ** 20 / 30) / 2 ** 30;
  log(`memory: ${mem.totalGiB} GiB total, ${mem.availableGiB} GiB available; the target needs about ${expectRssGiB.toFixed(2)} GiB resident (${((opts.threads * opts.mb) / 1024).toFixed(1)} GiB of address space)`);
  if (mem.availableGiB < expectRssGiB + 1.5) fail(`not enough free memory (${mem.availableGiB} GiB available); lower --threads or --mb`);
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  if (!timeBin) log('/usr/bin/time is not installed: only the node process\'s own VmHWM is reported');

  const dir = await mkdtemp(join(tmpdir(), 'heapgap-bench-scale-'));
  const exe = join(dir, 'many-vmas');
  await execa('gcc', ['-O1', '-g0', '-pthread', '-Wall', '-o', exe, join(ROOT, 'fixtures', 'targets', 'many-vmas.c')], { stdin: 'ignore' });

  const oldMapCount = Number(readFileSync(MAP_COUNT, 'latin1').trim());
  const need = opts.vmas + opts.threads * (Math.ceil(opts.mb / 64) + 1) * 2 + 4096;
  let raised = false;
  let target = null;
  const restore = async () => {
    if (target && target.exitCode === null && target.signalCode === null) {
      target.kill('SIGTERM');
      await Promise.race([target, sleep(5000)]);
    }
    if (raised) {
      await setMapCount(oldMapCount);
      raised = false;
      log(`vm.max_map_count restored to ${oldMapCount}`);
    }
  };
  const onSignal = () => {
    restore().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const doc = {
    bench: 'scale',
    when: new Date().toISOString(),
    machine: { cpus: cpus().length, memGiB: r1(totalmem() / 2 ** 30), node: process.version, loadavg1: [r1(loadavg()[0])] },
    params: { ...opts, mallocArenaMax: opts.threads + 1 },
    gitHead: (await execa('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { reject: false })).stdout.trim() || null,
  };
  try {
    if (oldMapCount < need) {
      const value = Math.max(262144, need);
      log(`raising vm.max_map_count ${oldMapCount} -> ${value} for the run`);
      await setMapCount(value);
      raised = true;
    }
    doc.maxMapCount = { before: oldMapCount, during: raised ? Math.max(262144, need) : oldMapCount };

    log(`starting many-vmas ${opts.vmas} ${opts.threads} ${opts.mb} with MALLOC_ARENA_MAX=${opts.threads + 1}`);
    const t0 = performance.now();
    target = execa(exe, [String(opts.vmas), String(opts.threads), String(opts.mb)], {
      env: { MALLOC_ARENA_MAX: String(opts.threads + 1) },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      reject: false,
      buffer: false,
      cleanup: true,
    });
    const ready = await new Promise((res, rej) => {
      let buf = '';
      let err = '';
      const timer = setTimeout(() => rej(new Error('many-vmas did not get ready within 180 s')), 180_000);
      target.stderr.on('data', (c) => (err += c));
      target.stdout.on('data', (c) => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          res(JSON.parse(buf.slice(0, nl)));
        }
      });
      target.then((r) => {
        clearTimeout(timer);
        rej(new Error(`many-vmas exited (${r.exitCode ?? r.signal}) before it was ready: ${err.trim()}`));
      });
    });
    const pid = ready.pid;
    const maps = readFileSync(`/proc/${pid}/maps`, 'latin1');
    const smapsText = readFileSync(`/proc/${pid}/smaps`, 'latin1');
    doc.target = { ...ready, readyAfterMs: r1(performance.now() - t0), vmasInMaps: maps.split('\n').length - 1, smapsMB: r3(smapsText.length / 1e6), ...procStatus(pid) };
    log(`target ready: ${doc.target.vmasInMaps} VMAs, ${ready.threads} threads, ${ready.arenaHeaps} arena heaps (>= ${ready.minHeapsPerThread} per thread), Rss ${doc.target.rssMiB} MiB`);

    // ---- heapgap inspect vs pmap -X, alternating ----------------------------------------------
    const runs = { pmap: [], heapgap: [] };
    for (let i = 0; i < opts.reps; i++) {
      const order = i % 2 === 0 ? ['pmap', 'heapgap'] : ['heapgap', 'pmap'];
      for (const which of order) {
        await sleep(300);
        if (which === 'pmap') {
          const timeFile = join(dir, `pmap-time-${i}`);
          const [file, args] = timeBin ? [timeBin, ['-f', '%M', '-o', timeFile, 'pmap', '-X', String(pid)]] : ['pmap', ['-X', String(pid)]];
          const s = performance.now();
          const r = await execa(file, args, { stdin: 'ignore', reject: false, maxBuffer: 1e9 });
          const ms = performance.now() - s;
          if (r.exitCode !== 0) throw new Error(`pmap -X failed: ${r.stderr}`);
          const peakKiB = timeBin ? Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop()) || null : null;
          runs.pmap.push({ ms: r1(ms), peakMiB: peakKiB && r1(peakKiB / 1024), lines: r.stdout.split('\n').length });
          log(`pmap -X: ${ms.toFixed(0)} ms, peak ${runs.pmap.at(-1).peakMiB} MiB`);
        } else {
          const hwmFile = join(dir, `hwm-${i}`);
          const timeFile = join(dir, `time-${i}`);
          const argv = ['--import', HWM_HOOK, CLI, 'inspect', String(pid), '--json'];
          const [file, args] = timeBin ? [timeBin, ['-f', '%M', '-o', timeFile, process.execPath, ...argv]] : [process.execPath, argv];
          const s = performance.now();
          const r = await execa(file, args, { stdin: 'ignore', reject: false, env: { BENCH_HWM_FILE: hwmFile }, maxBuffer: 1e9 });
          const ms = performance.now() - s;
          if (r.exitCode !== 0) throw new Error(`heapgap inspect failed (${r.exitCode}): ${r.stderr}`);
          const report = JSON.parse(r.stdout);
          const hwmKiB = Number((await readFile(hwmFile, 'utf8').catch(() => '')).trim()) || null;
          const treeKiB = timeBin ? Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop()) || null : null;
          runs.heapgap.push({
            ms: r1(ms),
            nodePeakMiB: hwmKiB && r1(hwmKiB / 1024),
            treePeakMiB: treeKiB && r1(treeKiB / 1024),
            stoppedMs: report.pause?.stoppedMs ?? null,
            attachMs: report.pause?.attachMs ?? null,
            callMs: report.pause?.callMs ?? null,
            arenas: report.arenas?.length ?? null,
            threadArenaHeapVmas: (report.arenas ?? []).filter((a) => a.kind === 'thread').reduce((n, a) => n + a.heaps.length, 0),
            notes: report.notes ?? [],
          });
          log(`heapgap inspect: ${ms.toFixed(0)} ms, node peak ${runs.heapgap.at(-1).nodePeakMiB} MiB, stoppedMs ${report.pause?.stoppedMs}`);
        }
      }
    }
    const pmapMs = stats(runs.pmap.map((r) => r.ms));
    const hgMs = stats(runs.heapgap.map((r) => r.ms));
    doc.inspect = {
      pmap: { command: `pmap -X ${pid}`, ms: pmapMs, peakMiB: stats(runs.pmap.map((r) => r.peakMiB)), runs: runs.pmap },
      heapgap: {
        command: `node ${CLI} inspect ${pid} --json`,
        ms: hgMs,
        nodePeakMiB: stats(runs.heapgap.map((r) => r.nodePeakMiB)),
        treePeakMiB: stats(runs.heapgap.map((r) => r.treePeakMiB)),
        stoppedMs: stats(runs.heapgap.map((r) => r.stoppedMs)),
        attachMs: stats(runs.heapgap.map((r) => r.attachMs)),
        callMs: stats(runs.heapgap.map((r) => r.callMs)),
        runs: runs.heapgap,
      },
      ratio: r3(hgMs.median / pmapMs.median),
    };

    // ---- parse throughput ----------------------------------------------------------------------
    const capFile = join(dir, 'capture.json');
    const capTime = join(dir, 'capture-time');
    const capArgv = [CLI, 'capture', String(pid), '-o', capFile];
    const cap = await execa(timeBin ?? process.execPath, timeBin ? ['-f', '%M', '-o', capTime, process.execPath, ...capArgv] : capArgv, { stdin: 'ignore', reject: false });
    if (cap.exitCode !== 0) throw new Error(`heapgap capture failed: ${cap.stderr}`);
    const capKiB = timeBin ? Number((await readFile(capTime, 'utf8')).trim().split('\n').pop()) || null : null;
    doc.capture = { command: `node ${CLI} capture ${pid} -o FILE`, peakMiB: capKiB && r1(capKiB / 1024), fileMB: null };
    const captureText = await readFile(capFile, 'utf8');
    doc.capture.fileMB = r3(captureText.length / 1e6);
    const snapshot = JSON.parse(captureText);
    // capture/2 keeps it in glibc's section; capture/1 kept it with the raw inputs
    const realXml = snapshot.sections?.glibc?.mallocInfo ?? snapshot.raw?.mallocInfo;
    if (typeof realXml !== 'string') throw new Error('the capture holds no malloc_info document');
    const xml = syntheticMallocInfo(realXml, opts.arenasXml);
    const parsedHeaps = parseMallocInfo(xml).heaps.length;
    if (parsedHeaps !== opts.arenasXml) throw new Error(`synthetic malloc_info parsed to ${parsedHeaps} heaps, expected ${opts.arenasXml}`);
    const smapsVmas = parseSmaps(smapsText).length;
    const mb = (s) => s.length / 1e6; // latin1 text: one char per byte
    const rate = (bytes, s) => (s.median ? r1(bytes / (s.median / 1000)) : null);
    let sink = 0;
    const smapsParse = timeIt(() => (sink += parseSmaps(smapsText).length), opts.parseReps);
    const smapsSplit = timeIt(() => (sink += smapsText.split('\n').length), opts.parseReps);
    // From files, through the code inspect reads /proc/PID/smaps with (readEach + SmapsParser.feed)
    // and as report reads a file (whole, then parsed); baseline: the same reads without parsing.
    const smapsFile = join(dir, 'smaps.txt');
    const xmlFile = join(dir, 'malloc-info.xml');
    await writeFile(smapsFile, smapsText, 'latin1');
    await writeFile(xmlFile, xml, 'latin1');
    // parseMallocInfo keeps the last document it parsed and answers the same text from it (inspect
    // parses one twice): two documents a trailing space apart, taken in turn, make every call a parse
    const xmls = [xml, `${xml} `];
    const xmlFiles = [xmlFile, join(dir, 'malloc-info-2.xml')];
    await writeFile(xmlFiles[1], xmls[1], 'latin1');
    let turn = 0;
    const smapsFromFile = timeIt(() => {
      const parser = new SmapsParser(smapsFile);
      readEach(smapsFile, (c) => parser.feed(c));
      sink += parser.end().length;
    }, opts.parseReps);
    const smapsReadOnly = timeIt(() => readEach(smapsFile, (c) => (sink += c.length)), opts.parseReps);
    const xmlFromFile = timeIt(() => (sink += parseMallocInfo(readFileSync(xmlFiles[turn++ % 2], 'latin1')).heaps.length), opts.parseReps);
    const xmlReadOnly = timeIt(() => (sink += readFileSync(xmlFile, 'latin1').length), opts.parseReps);
    const xmlParse = timeIt(() => (sink += parseMallocInfo(xmls[turn++ % 2]).heaps.length), opts.parseReps);
    const xmlSplit = timeIt(() => (sink += xml.split('\n').length), opts.parseReps);
    const analyseMs = timeIt(() => (sink += analyse(parseDocument(captureText, 'capture').snapshot).arenas.length), Math.min(opts.parseReps, 3));
    doc.parse = {
      smaps: { MB: r3(mb(smapsText)), vmas: smapsVmas, parseSmapsMs: smapsParse, splitMs: smapsSplit, parseMBps: rate(mb(smapsText), smapsParse), splitMBps: rate(mb(smapsText), smapsSplit), ratio: ratioOf(smapsParse, smapsSplit) },
      mallocInfo: {
        MB: r3(mb(xml)),
        heaps: opts.arenasXml,
        builtFrom: `real malloc_info of the target (${(realXml.match(/<heap nr=/g) ?? []).length} heaps, ${realXml.length} bytes)`,
        parseMallocInfoMs: xmlParse,
        splitMs: xmlSplit,
        parseMBps: rate(mb(xml), xmlParse),
        splitMBps: rate(mb(xml), xmlSplit),
        ratio: ratioOf(xmlParse, xmlSplit),
      },
      fromFile: {
        smaps: { ms: smapsFromFile, readOnlyMs: smapsReadOnly, MBps: rate(mb(smapsText), smapsFromFile), ratio: ratioOf(smapsFromFile, smapsReadOnly) },
        mallocInfo: { ms: xmlFromFile, readOnlyMs: xmlReadOnly, MBps: rate(mb(xml), xmlFromFile), ratio: ratioOf(xmlFromFile, xmlReadOnly) },
      },
      analyseCaptureMs: analyseMs,
      sink,
    };
    // Last, as it changes the target: one trim, whose stop holds two smaps reads (before and after).
    const trimRun = await execa(process.execPath, [CLI, 'trim', String(pid), '--json'], { stdin: 'ignore', reject: false, maxBuffer: 1e9 });
    if (trimRun.exitCode !== 0) throw new Error(`heapgap trim failed (${trimRun.exitCode}): ${trimRun.stderr}`);
    const trimDoc = JSON.parse(trimRun.stdout);
    doc.trim = { command: `node ${CLI} trim ${pid} --json`, pause: trimDoc.pause, releasedBytes: trimDoc.releasedBytes };
    log(`heapgap trim: stoppedMs ${trimDoc.pause?.stoppedMs}`);
    doc.targetAfter = procStatus(pid);
  } finally {
    await restore();
    await rm(dir, { recursive: true, force: true });
  }
  doc.machine.loadavg1.push(r1(loadavg()[0]));

  const i = doc.inspect;
  const p = doc.parse;
  const f = (x) => (x === null || x === undefined ? '-' : String(x));
  const range = (s) => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
  const rows = [
    ['target', `${doc.target.vmasInMaps} VMAs, ${doc.target.threads} threads, ${doc.target.arenaHeaps} heaps, Rss ${doc.target.rssMiB} MiB, smaps ${doc.target.smapsMB} MB`],
    ['pmap -X wall ms', range(i.pmap.ms)],
    ['heapgap inspect wall ms', range(i.heapgap.ms)],
    ['ratio heapgap/pmap', f(i.ratio)],
    ['heapgap node peak RSS MiB (VmHWM)', range(i.heapgap.nodePeakMiB)],
    ['heapgap+gdb peak RSS MiB (time %M)', range(i.heapgap.treePeakMiB)],
    ['pmap -X peak RSS MiB (time %M)', range(i.pmap.peakMiB)],
    ['heapgap capture peak RSS MiB (time %M)', `${f(doc.capture.peakMiB)} (capture file ${f(doc.capture.fileMB)} MB)`],
    ['heapgap stoppedMs / attachMs / callMs', `${range(i.heapgap.stoppedMs)} / ${f(i.heapgap.attachMs.median)} / ${f(i.heapgap.callMs.median)}`],
    ['heapgap trim stoppedMs (smaps read twice in the stop)', `${f(doc.trim?.pause?.stoppedMs)} (released ${f(doc.trim?.releasedBytes)} bytes)`],
    ['parseSmaps', `${f(p.smaps.parseSmapsMs.median)} ms = ${f(p.smaps.parseMBps)} MB/s on ${p.smaps.MB} MB (${p.smaps.vmas} VMAs)`],
    ['  baseline split(\'\\n\')', `${f(p.smaps.splitMs.median)} ms = ${f(p.smaps.splitMBps)} MB/s; ratio ${f(p.smaps.ratio)}x`],
    ['parseMallocInfo', `${f(p.mallocInfo.parseMallocInfoMs.median)} ms = ${f(p.mallocInfo.parseMBps)} MB/s on ${p.mallocInfo.MB} MB (${p.mallocInfo.heaps} heaps)`],
    ['  baseline split(\'\\n\')', `${f(p.mallocInfo.splitMs.median)} ms = ${f(p.mallocInfo.splitMBps)} MB/s; ratio ${f(p.mallocInfo.ratio)}x`],
    ['smaps file -> VMAs (readEach + feed)', `${f(p.fromFile.smaps.ms.median)} ms = ${f(p.fromFile.smaps.MBps)} MB/s; reading alone ${f(p.fromFile.smaps.readOnlyMs.median)} ms`],
    ['malloc_info file -> arenas', `${f(p.fromFile.mallocInfo.ms.median)} ms = ${f(p.fromFile.mallocInfo.MBps)} MB/s; reading alone ${f(p.fromFile.mallocInfo.readOnlyMs.median)} ms`],
    ['analyse() of the capture', `${range(p.analyseCaptureMs)} ms`],
    ['load average (1 min) before -> after', doc.machine.loadavg1.join(' -> ')],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  const text = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
  if (opts.json) {
    process.stderr.write(`${text}\n`);
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else process.stdout.write(`${text}\n`);
}

await main();
