import { describe, expect, it } from 'vitest';
import { captureText } from '../../src/collect/pipeline.js';
import type { TakenSnapshot } from '../../src/collect/pipeline.js';
import type { Snapshot } from '../../src/snapshot.js';
import { fixture } from '../fixtures.js';

// What JSON.stringify has to escape, and latin1 bytes a path may carry, across buffer boundaries.
const HOSTILE = '7f0000000000-7f0000001000 rw-p 00000000 00:00 0    /tmp/a "quoted" \\back\\slash\ttab \u0001\u001f caf\u00e9 \u00ff\n';

function taken(smapsText: string, cut: number | 'string'): TakenSnapshot {
  const snapshot = {
    schema: 'heapgap.capture/2',
    pid: 42,
    comm: 'we"ird\\comm',
    raw: { status: 'Name:\tx\n', smaps: smapsText },
    sections: { glibc: { mallocInfo: '<malloc version="1">\n</malloc>\n' } },
    notes: ['a note with "quotes"'],
  } as unknown as Snapshot;
  const bytes = Buffer.from(smapsText, 'latin1');
  const rawSmaps = cut === 'string' ? smapsText : Array.from({ length: Math.ceil(bytes.length / cut) }, (_, i) => bytes.subarray(i * cut, (i + 1) * cut));
  return { snapshot, vmas: [], rawSmaps };
}

describe('captureText', () => {
  const text = fixture('multi-heap', 'smaps') + HOSTILE.repeat(50);

  it.each([1, 7, 3584, 1 << 20, 'string'] as const)('pieces (smaps cut every %s) are exactly JSON.stringify(snapshot)', (cut) => {
    const t = taken(text, cut);
    const pieces = [...captureText(t)];
    const joined = pieces.join('');
    expect(joined).toBe(`${JSON.stringify(t.snapshot)}\n`);
    expect((JSON.parse(joined) as Snapshot).raw.smaps).toBe(text);
    if (typeof cut === 'number' && cut < text.length) expect(pieces.length).toBeGreaterThan(2);
  });

  it('refuses a snapshot whose smaps was not kept', () => {
    expect(() => [...captureText({ ...taken(text, 'string'), rawSmaps: null })]).toThrow(/keepRawSmaps/);
  });
});
