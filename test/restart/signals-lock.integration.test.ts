// The restart child process under signals and the lock race: 20 processes that each load the
// sources through tsx (slow to start, hence an integration test).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireLock } from '../../src/restart/lock.ts';

const CHILD = fileURLToPath(new URL('../helpers/restart-child.ts', import.meta.url));

/** Spawns the child helper; resolves lines as they come. */
function child(args: string[]): { proc: ChildProcess; next: () => Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  });
  proc.once('exit', () => {
    for (const w of waiters.splice(0)) w('');
  });
  return {
    proc,
    next: () =>
      new Promise((resolve) => {
        const l = queue.shift();
        if (l !== undefined) resolve(l);
        else waiters.push(resolve);
      }),
  };
}

describe('restart: signals and the lock', () => {
  const root = mkdtempSync(join(tmpdir(), 'afterpatch-sig-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('SIGTERM during a batch: the batch finishes, the rest is skipped, outcomes saved, lock released', async () => {
    const dir = join(root, 'sig');
    const c = child(['apply', dir]);
    assert.equal(await c.next(), 'acting');
    c.proc.kill('SIGTERM');
    const out = JSON.parse(await c.next());
    assert.deepEqual(out, {
      acts: 1,
      results: [['a.service', 'unverified']],
      interrupted: 'SIGTERM',
      stateError: null,
    });
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    assert.deepEqual(Object.keys(state.units), ['system-unit:a.service']);
    assert.equal(existsSync(join(dir, 'lock')), false);
  });

  it('20 restarts started together over a stale lock: exactly one takes it (30 rounds)', async () => {
    const dir = join(root, 'race');
    mkdirSync(dir, { mode: 0o755 });
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    // The old code let two of them in about once in three rounds.
    const kids = Array.from({ length: 20 }, () => child(['lock', dir]));
    try {
      for (const k of kids) assert.equal(await k.next(), 'ready');
      for (let round = 0; round < 30; round++) {
        // A lock left by a dead process; in odd rounds in the format with the start time.
        writeFileSync(join(dir, 'lock'), round % 2 ? `${dead.pid} 12345\n` : `${dead.pid}\n`);
        for (const k of kids) k.proc.stdin?.write('go\n');
        const answers = await Promise.all(kids.map((k) => k.next()));
        const won = answers.filter((a) => a === 'acquired');
        assert.equal(won.length, 1, `round ${round}:\n${answers.join('\n')}`);
        for (const a of answers) {
          if (a !== 'acquired')
            assert.match(a, /^busy another afterpatch restart \(PID \d+\) is running/);
        }
        for (const k of kids) k.proc.stdin?.write('release\n');
        for (const k of kids) assert.equal(await k.next(), 'released');
        assert.equal(existsSync(join(dir, 'lock')), false);
        assert.equal(existsSync(join(dir, 'lock.takeover')), false);
      }
    } finally {
      for (const k of kids) k.proc.stdin?.write('exit\n');
      await Promise.all(
        kids.map(
          (k) => new Promise((r) => (k.proc.exitCode === null ? k.proc.once('exit', r) : r(null))),
        ),
      );
    }
  });

  it('a lock whose PID now belongs to another process (another start time) is taken over', () => {
    const dir = join(root, 'reused');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, 'lock'), `${process.pid} 1\n`);
    const release = acquireLock(dir);
    assert.match(readFileSync(join(dir, 'lock'), 'utf8'), new RegExp(`^${process.pid} \\d+\n$`));
    assert.throws(() => acquireLock(dir), /another afterpatch restart \(PID \d+\) is running/);
    release();
    assert.equal(existsSync(join(dir, 'lock')), false);
  });
});
