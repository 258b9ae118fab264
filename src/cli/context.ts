import type { AnyDocument, FindingReport } from '../types.js';

/** What every command gets from main.ts: the run's bounds and a way to talk to the user. */
export interface RunContext {
  /** Aborted on heapgap's own SIGINT/SIGTERM or when --timeout runs out. */
  signal: AbortSignal;
  /** Epoch ms by which the run must be over (--timeout). */
  deadline: number;
  /** Progress for humans, on stderr. */
  progress: (msg: string) => void;
}

/** What a command hands back: the document to render, and the findings --fail-on looks at. */
export interface Outcome {
  /** The document to render; absent when `raw` says it all (capture files, watch summaries). */
  doc?: AnyDocument;
  findings: FindingReport[];
  /** Written as is instead of rendering doc (capture files); pieces are written one by one. */
  raw?: string | Iterable<string>;
}
