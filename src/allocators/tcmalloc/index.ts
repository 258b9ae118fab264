/** tcmalloc (gperftools): collector (MallocExtension C API in the stop) and analyser, for the registries. */
import { otherInput, presenceOf } from '../common.js';
import type { Analyser, Collector } from '../types.js';
import { analyseTcmalloc } from './analyse.js';
import { prepareTcmalloc } from './prepare.js';
import { tcmallocSection } from './section.js';
import type { TcmallocSection } from './section.js';

export const tcmallocCollector: Collector<TcmallocSection> = {
  name: 'tcmalloc',
  async prepare(t) {
    const { p } = presenceOf(t, 'tcmalloc');
    return {
      plan: await prepareTcmalloc(t.pid, p, t.maps),
      notes: [],
      measure: async (raw, m) => tcmallocSection(raw, p.object.path, m.vmas),
    };
  },
};

export const tcmallocAnalyser: Analyser<TcmallocSection> = {
  name: 'tcmalloc',
  analyse: (section, input) => analyseTcmalloc(section, otherInput(input)),
};
