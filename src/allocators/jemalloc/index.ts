/** jemalloc: collector (mallctl in the stop) and analyser, for the registries. */
import { HeapgapError } from '../../errors.js';
import { otherInput } from '../common.js';
import type { Analyser, Collector, Target } from '../types.js';
import { analyseJemalloc } from './analyse.js';
import { prepareJemalloc } from './prepare.js';
import { jemallocSection } from './section.js';
import type { JemallocSection } from './section.js';

/** This allocator's presence in the process, as detect-process found it. */
export function presenceOf(t: Target, name: string) {
  const p = t.allocators.present.find((x) => x.name === name);
  if (!p) throw new HeapgapError('UNSUPPORTED_ALLOCATOR', `no ${name} in process ${t.pid}`);
  // A static copy lives in the executable, already opened with its .symtab.
  return { p, opened: p.static && t.allocators.exe?.object === p.object ? t.allocators.exe : undefined };
}

export const jemallocCollector: Collector<JemallocSection> = {
  name: 'jemalloc',
  async prepare(t) {
    const { p, opened } = presenceOf(t, 'jemalloc');
    return {
      plan: await prepareJemalloc(t.pid, p, opened),
      notes: [],
      measure: async (raw) => jemallocSection(raw, { object: p.object.path, prefix: p.prefix }),
    };
  },
};

export const jemallocAnalyser: Analyser<JemallocSection> = {
  name: 'jemalloc',
  analyse: (section, input) => analyseJemalloc(section, otherInput(input)),
};
