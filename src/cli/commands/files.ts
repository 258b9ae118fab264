import { readFile } from 'node:fs/promises';
import { analyse } from '../../analyse/inspect.js';
import { diffReports } from '../../analyse/diff.js';
import { captureText, takeSnapshot } from '../../collect/snapshot.js';
import { HeapgapError } from '../../errors.js';
import { parseDocument } from '../../parse/capture.js';
import type { InspectReport } from '../../types.js';
import type { Outcome, RunContext } from '../context.js';

/** heapgap capture <pid> -o FILE: the raw inputs of one inspect, to be reported elsewhere. */
export async function capture(pid: number, ctx: RunContext): Promise<Outcome & { raw: Iterable<string> }> {
  const taken = await takeSnapshot(pid, { mode: 'inspect', deadline: ctx.deadline, signal: ctx.signal, onProgress: ctx.progress, keepRawSmaps: true });
  const report = analyse(taken.snapshot, taken); // fails here, not on the other host, if the capture cannot be read
  return { doc: report, findings: report.findings, raw: captureText(taken) };
}

/** heapgap report FILE: renders a capture exactly as inspect would have. */
export async function reportFile(file: string): Promise<Outcome> {
  const report = await load(file);
  return { doc: report, findings: report.findings };
}

/** heapgap diff BEFORE AFTER: captures or inspect JSON files. */
export async function diff(beforeFile: string, afterFile: string): Promise<Outcome> {
  const [before, after] = await Promise.all([load(beforeFile), load(afterFile)]);
  const doc = diffReports(before, after);
  return { doc, findings: doc.findings.appeared };
}

async function load(file: string): Promise<InspectReport> {
  const loaded = parseDocument(await readInput(file), file);
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
