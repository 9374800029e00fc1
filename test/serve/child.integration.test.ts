// `serve` gathers in a child process (issue 12.7): a gathering blocked in a read (a FIFO without
// a writer, read by the child through the test hook, as a /proc read stuck in the kernel would
// be) gives 503 past --timeout, is killed, and the next scrape works; concurrent scrapes share
// one gathering; SIGTERM ends serve at once even while a gathering is blocked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_BLOCK_ENV } from '../../src/serve/child.ts';
import { FAKE_INIT, FAKE_STALE_SSHD, makeProcTree } from '../helpers/fakeproc.ts';
import { type Served, startServe } from '../helpers/serve.ts';

/** PIDs whose parent is `ppid` (from /proc/PID/stat: the field after the state). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

async function scrape(url: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), ms: performance.now() - t0 };
}

describe('serve gathers out of process', () => {
  let fx: ReturnType<typeof makeProcTree>;
  let dir: string;
  let fifo: string;
  const servers: Served[] = [];
  before(() => {
    fx = makeProcTree({ 1: FAKE_INIT, 20: FAKE_STALE_SSHD });
    dir = mkdtempSync(join(tmpdir(), 'afterpatch-serve-child-'));
    fifo = join(dir, 'block');
  });
  after(async () => {
    for (const s of servers) await s.stop();
    fx.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (args: string[]) => {
    rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    const s = await startServe(
      ['--proc-root', fx.root, '--root', fx.root, '--state-dir', dir, ...args],
      { [TEST_BLOCK_ENV]: fifo },
    );
    servers.push(s);
    return s;
  };
  /** The blocking read finds a regular file from now on: gatherings go through. */
  const unblock = () => {
    rmSync(fifo);
    writeFileSync(fifo, '');
  };

  it('a blocked gathering: 503 past --timeout, killed past --scan-timeout, the next scrape works', async () => {
    const s = await start(['--timeout', '1', '--scan-timeout', '1', '--interval', '0.2']);
    const pid = s.child.pid ?? 0;
    const pending = scrape(s.url);
    await sleep(500);
    const blocked = childrenOf(pid);
    assert.equal(blocked.length, 1, 'one gathering process, blocked');
    // Meanwhile HTTP answers at once.
    const other = await fetch(s.url.replace('/metrics', '/'));
    assert.equal(other.status, 404);
    const first = await pending;
    assert.equal(first.status, 503);
    assert.ok(first.ms >= 900 && first.ms < 3000, `${first.ms} ms`);
    for (let i = 0; i < 40 && blocked.some(alive); i++) await sleep(50);
    assert.ok(!blocked.some(alive), 'the blocked child was killed');
    unblock();
    await sleep(300); // past --interval: the next scrape starts a new gathering
    const next = await scrape(s.url);
    assert.equal(next.status, 200, next.body);
    assert.match(next.body, /^afterpatch_last_scan_success 1$/m);
    assert.match(next.body, /^afterpatch_scan_errors_total 1$/m, 'the killed one was counted');
    assert.match(
      next.body,
      /^afterpatch_unit_needs_restart\{unit="ssh.service",type="system-unit"\} 1$/m,
    );
    assert.match(
      s.stderr(),
      /scan failed: scan still running after 1 s \(--scan-timeout\); killed it/,
    );
  });

  it('a scan slower than --timeout goes on until --scan-timeout; a later scrape gets its result', async () => {
    const s = await start(['--timeout', '1', '--scan-timeout', '30', '--interval', '30']);
    const pid = s.child.pid ?? 0;
    assert.equal((await scrape(s.url)).status, 503);
    const running = childrenOf(pid);
    assert.equal(running.length, 1, 'still gathering after the 503');
    writeFileSync(fifo, ''); // a writer opens and closes the FIFO: the child's read ends
    for (let i = 0; i < 100 && running.some(alive); i++) await sleep(50);
    const next = await scrape(s.url);
    assert.equal(next.status, 200);
    assert.match(next.body, /^afterpatch_last_scan_success 1$/m);
    assert.match(next.body, /^afterpatch_scan_errors_total 0$/m, 'that same scan, not a new one');
  });

  it('concurrent scrapes share one gathering, blocked or not', async () => {
    const s = await start(['--timeout', '1', '--scan-timeout', '1', '--interval', '30']);
    const pid = s.child.pid ?? 0;
    const blockedScrapes = Array.from({ length: 20 }, () => scrape(s.url));
    await sleep(500);
    assert.equal(childrenOf(pid).length, 1, 'one gathering for 20 scrapes');
    const blocked = await Promise.all(blockedScrapes);
    assert.deepEqual(new Set(blocked.map((r) => r.status)), new Set([503]));
    // The failed gathering is cached for --interval like any other: answered at once, visibly failed.
    unblock();
    const cached = await Promise.all(Array.from({ length: 20 }, () => scrape(s.url)));
    assert.deepEqual(new Set(cached.map((r) => r.status)), new Set([200]));
    assert.equal(new Set(cached.map((r) => r.body)).size, 1);
    assert.match(cached[0]?.body ?? '', /^afterpatch_last_scan_success 0$/m);
  });

  it('SIGTERM ends serve at once while a gathering is blocked, and the child with it', async () => {
    const s = await start(['--timeout', '60']);
    const pid = s.child.pid ?? 0;
    void scrape(s.url).catch(() => {});
    await sleep(500);
    const blocked = childrenOf(pid);
    assert.equal(blocked.length, 1);
    const t0 = performance.now();
    assert.equal(await s.stop(), 0);
    assert.ok(performance.now() - t0 < 3000, `stopped in ${performance.now() - t0} ms`);
    for (let i = 0; i < 40 && blocked.some(alive); i++) await sleep(50);
    assert.ok(!blocked.some(alive), 'no gathering process left behind');
  });
});
