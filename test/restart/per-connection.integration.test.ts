// Per-connection units (issue 15) against a real systemd: an Accept=yes socket spawns one
// `svc-conn@N-LOCAL-PEER.service` per connection. With the instance mapping a replaced library,
// `afterpatch restart` advises (like a login session) instead of restarting it, and the client
// stays connected through the run; a plain service in the same run is still restarted.
//
// Needs root and a bootable sandbox (skips with the reason otherwise), gcc, and `npm run build`.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bootSandbox, type Sandbox } from '../../harness/sandbox.ts';
import { alive, mappingsOf } from '../../harness/stale-lib.ts';
import { freePort } from '../helpers/prometheus.ts';
import * as inSandbox from '../helpers/sandbox-cli.ts';

const skip = inSandbox.sandboxSkip();

interface PlanJson {
  unit: string | null;
  action: string;
  reason: string;
  needsHuman: boolean;
}
interface ScanJson {
  format: string;
  formatVersion: number;
  entries: { unit?: string; action: unknown }[];
}
interface RestartJson {
  format: string;
  formatVersion: number;
  plan: PlanJson[];
  results: { unit: string | null; outcome: string }[];
  summary: Record<string, number>;
}

/** A connected client that reads lines; `closed` resolves when the server ends the connection. */
class Client {
  readonly #s: Socket;
  #buf = '';
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.#s = connect({ host: '127.0.0.1', port });
    this.#s.setEncoding('utf8');
    this.#s.on('data', (d: string) => {
      this.#buf += d;
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => this.#s.on('close', () => resolve()));
    this.#s.on('error', () => {});
  }

  /** The next line, or an error after 10 s or when the connection closes first. */
  async line(): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const nl = this.#buf.indexOf('\n');
      if (nl >= 0) {
        const l = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        return l;
      }
      if (this.#s.closed) throw new Error(`connection closed; unread: ${this.#buf}`);
      if (Date.now() > deadline) throw new Error('no line within 10 s');
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  send(s: string): void {
    this.#s.write(s);
  }

  end(): void {
    this.#s.end();
  }

  destroy(): void {
    this.#s.destroy();
  }
}

describe('per-connection instances of an Accept=yes socket in a systemd sandbox', { skip }, () => {
  const build = inSandbox.svcFixtures();
  const clients: Client[] = [];

  after(() => {
    for (const c of clients) c.destroy();
  });

  const restart = (box: Sandbox, state: string, args: readonly string[]) =>
    inSandbox.restartJson<RestartJson>(box, state, args);

  it('advises instead of restarting the instance, and its client survives `afterpatch restart`', async () => {
    const tree = build().tree('conn');
    const state = join(tree.root, 'state');
    const port = await freePort();
    const box = await bootSandbox();
    await inSandbox.withJournalOnFailure(box, async () => {
      await box.installUnit(
        'svc-conn.socket',
        `[Unit]\nDescription=afterpatch per-connection test\n\n[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      );
      await box.installUnit(
        'svc-conn@.service',
        `[Unit]\nDescription=afterpatch per-connection test instance\n\n[Service]\nExecStart=${tree.daemon} inetd\nStandardInput=socket\n`,
      );
      const plain = 'svc-plain.service';
      await box.installUnit(
        plain,
        `[Unit]\nDescription=afterpatch per-connection test, plain\n\n[Service]\nType=notify\nExecStart=${tree.daemon} notify\n`,
      );
      assert.equal((await box.systemctl('start', 'svc-conn.socket', plain)).code, 0);

      const client = new Client(port);
      clients.push(client);
      const hello = await client.line();
      const m = /^svc value=1 pid=(\d+)$/.exec(hello);
      assert.ok(m, hello);
      const listed = await box.systemctl(
        'list-units',
        '--type=service',
        '--plain',
        '--no-legend',
        'svc-conn@*',
      );
      const instance = listed.stdout.trim().split(/\s+/)[0] ?? '';
      assert.match(instance, /^svc-conn@\d+-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service$/);
      const [host] = await box.unitPids(instance);
      assert.ok(host !== undefined, `no process in ${instance}`);

      tree.upgrade(2);
      assert.ok(
        mappingsOf(host, tree.lib).every((x) => x.deleted),
        'the instance maps the replaced library',
      );

      // scan asks no systemd: it knows the instance by the name systemd gave it.
      const scanned = await inSandbox.afterpatchJson<ScanJson>(box, 'afterpatch-scan', [
        'scan',
        '--json',
        '--lib',
        tree.libRegex,
      ]);
      const entries = scanned.json.entries;
      assert.deepEqual(
        entries.find((e) => e.unit === instance)?.action,
        {
          kind: 'manual',
          advice:
            'per-connection instance of svc-conn.socket: ends when the connection closes; restarting it would cut that connection',
        },
        scanned.text,
      );

      const run = await restart(box, state, ['--yes', '--lib', tree.libRegex]);
      // Advice needs a human, as a session does: exit 1, and nothing failed.
      assert.equal(run.code, 1, run.text);
      const entry = run.json.plan.find((e) => e.unit === instance);
      assert.deepEqual(
        entry && { action: entry.action, reason: entry.reason, needsHuman: entry.needsHuman },
        {
          action: 'advise',
          reason: 'per-connection instance of svc-conn.socket: ends when the connection closes',
          needsHuman: true,
        },
        run.text,
      );
      assert.deepEqual(
        run.json.results.map((r) => [r.unit, r.outcome]),
        [[plain, 'verified']],
        run.text,
      );

      // The connection is the same one, served by the same process, old library and all.
      assert.ok(alive(host), 'the instance was not restarted');
      client.send('still here\n');
      assert.equal(await client.line(), 'still here');

      // Never a loop: the next run advises again and acts on nothing.
      const again = await restart(box, state, ['--yes', '--lib', tree.libRegex]);
      assert.equal(again.code, 1, again.text);
      assert.deepEqual(
        again.json.plan.map((e) => [e.unit, e.action]),
        [[instance, 'advise']],
        again.text,
      );
      assert.deepEqual(again.json.results, [], again.text);

      // It ends when the connection closes; then nothing is left to do.
      client.end();
      await client.closed;
      for (let i = 0; i < 50 && alive(host); i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(alive(host), false, 'the instance ended with its connection');
      const done = await restart(box, state, ['--yes', '--lib', tree.libRegex]);
      assert.equal(done.code, 0, done.text);
      assert.deepEqual(done.json.plan, [], done.text);
    });
  });
});
