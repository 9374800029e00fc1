// Running the built CLI inside a systemd sandbox (harness/sandbox.ts), and failure messages
// that carry the sandbox's journal.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import { canBootSandbox, type Sandbox } from '../../harness/sandbox.ts';
import { buildSvc, type SvcBuild } from '../../harness/stale-lib.ts';

/** `describe`'s skip option: false, or why no sandbox can boot here. */
export function sandboxSkip(): false | string {
  const can = canBootSandbox();
  return can.ok ? false : `systemd sandbox unavailable: ${can.reason}`;
}

export interface Run<T> {
  code: number;
  json: T;
  /** stdout and stderr, for assertion messages. */
  text: string;
}

/** `node dist/afterpatch.cjs ARGS`, inside the sandbox, its JSON parsed and its format checked. */
export async function afterpatchJson<T extends { format: string; formatVersion: number }>(
  sb: Sandbox,
  format: string,
  args: readonly string[],
): Promise<Run<T>> {
  const r = await sb.exec([process.execPath, CLI, ...args], { timeoutMs: 60_000 });
  const text = `afterpatch ${args.join(' ')}\nexit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`afterpatch printed no JSON:\n${text}`);
  }
  assert.equal(json.format, format, text);
  assert.equal(json.formatVersion, 1, text);
  return { code: r.code, json, text };
}

/** `afterpatch restart --json --timeout 20 ARGS --state-dir STATE`, inside the sandbox. */
export function restartJson<T extends { format: string; formatVersion: number }>(
  sb: Sandbox,
  stateDir: string,
  args: readonly string[],
): Promise<Run<T>> {
  return afterpatchJson<T>(sb, 'afterpatch-restart', [
    'restart',
    '--json',
    '--timeout',
    '20',
    ...args,
    '--state-dir',
    stateDir,
  ]);
}

/** Runs `fn`, appends the journal's last `lines` to a failure, and always stops `sb`. */
export async function withJournalOnFailure<T>(
  sb: Sandbox,
  fn: () => Promise<T>,
  lines = 60,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const journal = (await sb.journal()).trimEnd().split('\n').slice(-lines).join('\n');
    if (e instanceof Error) e.message += `\n--- sandbox journal (last lines) ---\n${journal}`;
    throw e;
  } finally {
    await sb.stop();
  }
}

/**
 * For a suite of sandbox tests on svc-daemon (harness/stale-lib.ts): checks that the CLI
 * is built and builds the fixtures before the suite, removes them after; returns their getter.
 */
export function svcFixtures(): () => SvcBuild {
  let build: SvcBuild | undefined;
  before(async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run "npm run build" first`);
    build = await buildSvc();
  });
  after(() => build?.remove());
  return () => {
    assert.ok(build, 'fixtures not built');
    return build;
  };
}
