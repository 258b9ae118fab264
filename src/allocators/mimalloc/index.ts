/** mimalloc: collector (mi_process_info and friends in the stop) and analyser, for the registries. */
import { hex } from '../../units.js';
import { otherInput, presenceOf } from '../common.js';
import type { Analyser, Collector } from '../types.js';
import { analyseMimalloc } from './analyse.js';
import { prepareMimalloc } from './prepare.js';
import { mimallocSection } from './section.js';
import type { MimallocSection } from './section.js';

export const mimallocCollector: Collector<MimallocSection> = {
  name: 'mimalloc',
  async prepare(t) {
    const { p } = presenceOf(t, 'mimalloc');
    // fputs is the output function mi_stats_print_out is given: (const char*, FILE*) fits mi_output_fun.
    const fputs = t.libc.image.symbols.get('fputs');
    return {
      plan: await prepareMimalloc(t.pid, p, t.maps, fputs ? hex(t.libc.base + fputs.value) : null),
      notes: [],
      measure: async (raw, m) => mimallocSection(raw, p.object.path, m.vmas, m.memory),
    };
  },
};

export const mimallocAnalyser: Analyser<MimallocSection> = {
  name: 'mimalloc',
  analyse: (section, input) => analyseMimalloc(section, otherInput(input)),
};
