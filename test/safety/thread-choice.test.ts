// The calling thread: never one parked in a syscall inside the allocator or stdio, however deep in
// libc the forbidden frame is. fixtures/targets/lock-holders.c has a thread in write(2) inside
// malloc_stats (holding the main arena's lock and stdout's), one waiting for that lock two frames
// below free(), and a cleanly parked one. Seeing free() there takes libc's call-frame information
// (gdb's --readnever had switched it off: only the innermost frames were real).
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { procState, startTarget, stopAllTargets } from '../helpers/targets.js';

afterAll(stopAllTargets);

describe('thread choice', () => {
  it('threads inside free() and malloc_stats() are rejected; the parked one is used', async () => {
    const t = await startTarget('lock-holders');
    const [holder, freer, parked] = t.truth.threads.map((x) => x.tid);
    // The main arena stays locked by the holder: malloc_info waits on it and is unwound after its budget.
    const r = await runCli(['inspect', String(t.pid), '--call-budget', '300ms'], { env: { HEAPGAP_DEBUG: '1' } });
    const rejected = JSON.parse(/^rejected threads: (.*)$/m.exec(r.stderr)?.[1] ?? '{}') as Record<string, string>;
    expect(rejected[String(freer)], r.stderr).toMatch(/^inside (free|__libc_free|cfree)/);
    expect(rejected[String(holder)], r.stderr).toMatch(/^inside /);
    expect(/^calling thread: (\d+)$/m.exec(r.stderr)?.[1], r.stderr).toBe(String(parked));
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^heapgap: the call waited on an allocator lock longer than 300 ms and was unwound/m);
    const st = procState(t.pid);
    expect(st).toMatchObject({ alive: true, tracerPid: 0 });
    expect(st.state).not.toMatch(/^[Tt]$/);
    await t.stop();
  });
});
