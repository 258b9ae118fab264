import { readFile } from 'node:fs/promises';
import { analyse } from '../../analyse/inspect.js';
import { diffReports } from '../../analyse/diff.js';
import { captureText, takeSnapshot } from '../../collect/pipeline.js';
import { HeapgapError } from '../../errors.js';
import { analyseTrim } from '../../analyse/trim.js';
import { parseDocument } from '../../parse/capture.js';
import type { Loaded } from '../../parse/capture.js';
import type { InspectReport } from '../../types.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap capture <pid> -o FILE: the raw inputs of one inspect, to be reported elsewhere. */
export async function capture(pid: number, ctx: RunContext): Promise<Outcome & { raw: Iterable<string> }> {
  const taken = await takeSnapshot(pid, { mode: 'inspect', deadline: ctx.deadline, signal: ctx.signal, onProgress: ctx.progress, keepRawSmaps: true });
  const report = analyse(taken.snapshot, taken); // fails here, not on the other host, if the capture cannot be read
  return { doc: report, findings: report.findings, raw: captureText(taken) };
}

/** heapgap report FILE: renders a capture exactly as inspect (or, for a trim's capture, trim) would have. */
export async function reportFile(file: string): Promise<Outcome> {
  const loaded = parseDocument(await readInput(file), file);
  const report = await inspectOf(loaded, file);
  if (loaded.kind === 'capture' && loaded.snapshot.trim) {
    const trim = analyseTrim(report, loaded.snapshot.trim.pad, loaded.snapshot.trim);
    return { doc: trim, findings: trim.findings };
  }
  return { doc: report, findings: report.findings };
}

/** heapgap diff BEFORE AFTER: captures or inspect JSON files. */
export async function diff(beforeFile: string, afterFile: string): Promise<Outcome> {
  const [before, after] = await Promise.all([load(beforeFile), load(afterFile)]);
  const doc = diffReports(before, after);
  return { doc, findings: doc.findings.appeared };
}

async function load(file: string): Promise<InspectReport> {
  return inspectOf(parseDocument(await readInput(file), file), file);
}

async function inspectOf(loaded: Loaded, file: string): Promise<InspectReport> {
  if (loaded.kind === 'inspect') return loaded.report;
  try {
    return analyse(loaded.snapshot);
  } catch (cause) {
    if (cause instanceof HeapgapError) throw new HeapgapError(cause.code, `${file}: ${cause.message}`, { cause, ...(cause.hint ? { hint: cause.hint } : {}) });
    // The fields were well-typed but do not fit together (a hand-edited or damaged capture).
    throw new HeapgapError('BAD_INPUT', `${file}: inconsistent capture: ${(cause as Error).message}`, { cause });
  }
}

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file === '-' ? '/dev/stdin' : file, 'utf8');
  } catch (cause) {
    throw new HeapgapError('BAD_INPUT', `cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}
