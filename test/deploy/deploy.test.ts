// The deployment artefacts under deploy/, checked as far as this machine allows: the Prometheus
// rules with promtool (and against the metric names heapgap really writes), the systemd units with
// systemd-analyze verify, the Kubernetes manifest by a YAML parse and a structural check.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, REPO_ROOT, runCli } from '../helpers/cli.js';
import { renderOpenMetrics } from '../../src/report/openmetrics.js';
import type { AnyReport } from '../../src/types.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const has = (cmd: string, args: string[]) => spawnSync(cmd, args).error === undefined;
const PROMTOOL = has('promtool', ['--version']);
const SYSTEMD = has('systemd-analyze', ['--version']);
const YAML = spawnSync('python3', ['-c', 'import yaml']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'heapgap-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd = DEPLOY) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

describe('deploy/prometheus (needs Debian package prometheus for promtool)', () => {
  it.skipIf(!PROMTOOL)('promtool check rules and promtool test rules pass', () => {
    const check = run('promtool', ['check', 'rules', 'prometheus/heapgap.rules.yml']);
    expect(check.status, check.out).toBe(0);
    const test = run('promtool', ['test', 'rules', 'prometheus/heapgap.rules.test.yml']);
    expect(test.status, test.out).toBe(0);
    expect(test.out).toContain('SUCCESS');
  });

  it.skipIf(!PROMTOOL)('the rule tests fail when an expectation is wrong (they can fail)', () => {
    copyFileSync(join(DEPLOY, 'prometheus/heapgap.rules.yml'), join(tmp, 'heapgap.rules.yml'));
    const tests = readFileSync(join(DEPLOY, 'prometheus/heapgap.rules.test.yml'), 'utf8');
    writeFileSync(join(tmp, 'broken.test.yml'), tests.replace('value: 0.6', 'value: 0.7'));
    expect(run('promtool', ['test', 'rules', 'broken.test.yml'], tmp).status).not.toBe(0);
  });

  it('every heapgap_ metric the rules use is one heapgap writes (top on this host, inspect, trim)', async () => {
    const rules = readFileSync(join(DEPLOY, 'prometheus/heapgap.rules.yml'), 'utf8').replace(/^\s*#.*$/gm, '');
    const used = new Set(rules.match(/(?<![:\w])heapgap_[a-z_]+/g));
    const r = await runCli(['top', '--format', 'openmetrics'], { timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const fixture = (name: string) => renderOpenMetrics(JSON.parse(readFileSync(join(REPO_ROOT, 'fixtures/reports', `${name}.json`), 'utf8')) as AnyReport);
    const written = [r.stdout, fixture('inspect-api-server-four-arenas'), fixture('trim-api-server-four-arenas')].join('');
    const names = new Set([...written.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((n) => !names.has(n))).toEqual([]);
  }, 300_000);
});

describe('deploy/systemd (needs Debian package systemd for systemd-analyze)', () => {
  // verify insists that ExecStart exists: a stand-in that runs the built CLI
  const staged = (unit: string) => {
    const stub = join(tmp, 'heapgap');
    writeFileSync(stub, `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`);
    chmodSync(stub, 0o755);
    writeFileSync(join(tmp, unit), readFileSync(join(DEPLOY, 'systemd', unit), 'utf8').replaceAll('/usr/local/bin/heapgap', stub));
  };

  it.skipIf(!SYSTEMD)('systemd-analyze verify: the service and timer have no error or warning', () => {
    staged('heapgap-top.service');
    staged('heapgap-top.timer');
    const r = run('systemd-analyze', ['verify', './heapgap-top.service', './heapgap-top.timer'], tmp);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
    const bad = join(tmp, 'bad.service');
    writeFileSync(bad, '[Service]\nExecStart=/bin/true\nNotAKey=1\n');
    expect(run('systemd-analyze', ['verify', './bad.service'], tmp).out).not.toBe(''); // verify does speak up
  });

  it('the service writes top as OpenMetrics atomically (-o) into the textfile directory', () => {
    const unit = readFileSync(join(DEPLOY, 'systemd/heapgap-top.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/heapgap top --format openmetrics .*-o \$\{TEXTFILE_DIR\}\/heapgap\.prom$/m);
    expect(unit).toMatch(/^Type=oneshot$/m);
    expect(readFileSync(join(DEPLOY, 'systemd/heapgap-top.timer'), 'utf8')).toMatch(/^WantedBy=timers\.target$/m);
  });
});

describe('deploy/kubernetes (YAML parse needs Debian package python3-yaml)', () => {
  it.skipIf(!YAML)('the DaemonSet parses and has what heapgap top needs', () => {
    const r = spawnSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))'],
      { input: readFileSync(join(DEPLOY, 'kubernetes/heapgap-top.yaml'), 'utf8'), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const docs = JSON.parse(r.stdout) as any[];
    expect(docs.map((d) => `${d.apiVersion}/${d.kind}`)).toEqual(['v1/Namespace', 'apps/v1/DaemonSet']);
    const ds = docs[1];
    expect(ds.metadata.namespace).toBe(docs[0].metadata.name);
    const pod = ds.spec.template;
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) expect(pod.metadata.labels[k]).toBe(v);
    expect(pod.spec.hostPID).toBe(true);
    const [c] = pod.spec.containers;
    expect(c.image).toMatch(/\S+:\S+/);
    expect(c.securityContext.capabilities.add).toContain('SYS_PTRACE');
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    const script = [...c.command, ...c.args].join(' ');
    const out = /heapgap top --format openmetrics .*-o (\S+)\/heapgap\.prom/.exec(script);
    expect(out, script).not.toBeNull();
    const mount = c.volumeMounts.find((m: any) => m.mountPath === out![1]);
    expect(mount, `nothing mounted at ${out![1]}`).toBeDefined();
    const volume = pod.spec.volumes.find((v: any) => v.name === mount.name);
    expect(volume.hostPath.path).toMatch(/^\/var\/lib\//);
    for (const m of c.volumeMounts) expect(pod.spec.volumes.map((v: any) => v.name)).toContain(m.name);
  });
});
