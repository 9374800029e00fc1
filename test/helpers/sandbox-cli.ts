// Running the built CLI inside a systemd sandbox (harness/sandbox.ts), and failure messages
// that carry the sandbox's journal.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CLI } from '../../harness/cli.ts';
import {
  type BootOptions,
  bootSandbox,
  canBootSandbox,
  type Sandbox,
} from '../../harness/sandbox.ts';
import { buildSvc, type SvcBuild, type SvcTree } from '../../harness/stale-lib.ts';

/** `describe`'s skip option: false, or why no sandbox can boot here. */
export function sandboxSkip(): false | string {
  const can = canBootSandbox();
  return can.ok ? false : `systemd sandbox unavailable: ${can.reason}`;
}

export interface Run<T> {
  code: number;
  json: T;
  stderr: string;
  /** stdout and stderr, for assertion messages. */
  text: string;
}

/** `node dist/afterpatch.cjs ARGS`, inside the sandbox, its JSON parsed and its format checked. */
export async function afterpatchJson<T extends { format: string; formatVersion: number }>(
  sb: Sandbox,
  format: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run<T>> {
  const r = await sb.exec([process.execPath, CLI, ...args], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    ...(opts.env ? { env: opts.env } : {}),
  });
  const text = `afterpatch ${args.join(' ')}\nexit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`afterpatch printed no JSON:\n${text}`);
  }
  assert.equal(json.format, format, text);
  assert.equal(json.formatVersion, 1, text);
  return { code: r.code, json, stderr: r.stderr, text };
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

/**
 * For a suite of svc-daemon scenarios: each boots its own sandbox with its own tree and state
 * directory, appends the journal's last `lines` to a failure, and is stopped after it (and after
 * the suite, whatever happened).
 */
export function svcScenarios(
  lines = 80,
): (
  name: string,
  fn: (sb: Sandbox, tree: SvcTree, stateDir: string) => Promise<void>,
  opts?: (tree: SvcTree) => BootOptions,
) => Promise<void> {
  const build = svcFixtures();
  const sandboxes: Sandbox[] = [];
  after(async () => {
    for (const sb of sandboxes) await sb.stop().catch(() => {});
  });
  return async (name, fn, opts = () => ({})) => {
    const tree = build().tree(name);
    const stateDir = join(tree.root, 'state');
    const sb = await bootSandbox(opts(tree));
    sandboxes.push(sb);
    await withJournalOnFailure(sb, () => fn(sb, tree, stateDir), lines);
  };
}
