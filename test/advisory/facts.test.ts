// The replaced inode's ctime (issue 13): stat'ed once per mapped inode, however many processes
// map it; a process that could not be read says nothing about the inode.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { procProcessIo } from '../../src/advisory/facts.ts';
import { mapFilesName, parseMaps } from '../../src/procfs/maps.ts';

const isRoot = process.geteuid?.() === 0;
/** A PID above the kernel's limit (2^22): never a process. */
const NO_PID = 2 ** 22 + 1;

describe('procProcessIo.replacedAtMs', { skip: isRoot ? false : 'needs root (map_files)' }, () => {
  // Our own first file mapping (the node binary) stands for a mapped inode.
  const m = parseMaps(readFileSync('/proc/self/maps', 'utf8')).find((x) => x.inode !== 0);
  assert.ok(m);
  const file = { path: m.path, inode: m.inode, device: m.device, hostPath: m.path };
  const range = mapFilesName(m);
  const ctime = statSync(`/proc/self/map_files/${range}`).ctimeMs;

  it('shares one answer among the processes mapping the same inode and path', () => {
    const io = procProcessIo('/proc', (pid) => (pid === process.pid ? range : null));
    assert.equal(io.replacedAtMs(process.pid, file), ctime);
    // Not readable on its own (no range, no maps): the inode's answer is known already.
    assert.equal(io.replacedAtMs(NO_PID, file), ctime);
    // Another path or inode is another file: not shared.
    assert.equal(io.replacedAtMs(NO_PID, { ...file, hostPath: '/other' }), null);
    assert.equal(io.replacedAtMs(NO_PID, { ...file, inode: file.inode + 1 }), null);
  });

  it('does not share a failure', () => {
    const io = procProcessIo('/proc', () => range);
    assert.equal(io.replacedAtMs(NO_PID, file), null);
    assert.equal(io.replacedAtMs(process.pid, file), ctime);
  });
});
