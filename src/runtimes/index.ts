import type { Category, Vma } from '../types.js';
import { recogniseCpython } from './cpython.js';
import { recogniseJvm } from './jvm.js';
import type { RuntimeAnalysis, RuntimeClaim, RuntimeFacts, RuntimeName, RuntimeReport } from './types.js';
import { recogniseV8 } from './v8.js';

/** Every runtime heapgap recognises. Each is a pure function of the VMAs and the facts. */
export const RUNTIMES = { jvm: recogniseJvm, v8: recogniseV8, cpython: recogniseCpython } as const satisfies Record<RuntimeName, (input: Parameters<typeof recogniseJvm>[0]) => RuntimeAnalysis | null>;

/**
 * Runs the recognisers in turn; a VMA one claims is not offered to the next. `base` is each VMA's
 * category without runtime rules (arena / mmap-chunk where malloc claims it).
 */
export function recogniseRuntimes(vmas: readonly Vma[], base: readonly Category[], facts: RuntimeFacts | null): { claims: RuntimeClaim[]; reports: RuntimeReport[] } {
  const claims: RuntimeClaim[] = [];
  const reports: RuntimeReport[] = [];
  const current = [...base];
  const index = new Map(vmas.map((v, i) => [v.start, i]));
  for (const recognise of Object.values(RUNTIMES)) {
    const found = recognise({ vmas, base: current, facts });
    if (!found) continue;
    reports.push(found.report);
    for (const c of found.claims) {
      claims.push(c);
      const i = index.get(c.start);
      if (i !== undefined) current[i] = c.category;
    }
  }
  return { claims, reports };
}
