// Source package names cover their binary packages (dpkg Source:, rpm SOURCERPM).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dpkgBinariesOf, rpmBinariesOf, rpmSourceName } from '../../src/advisory/source.ts';

const STATUS = `Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.15-1~deb12u1

Package: openssl
Status: install ok installed
Version: 3.0.15-1~deb12u1

Package: libc6
Status: install ok installed
Source: glibc (2.36-9+deb12u9)
Version: 2.36-9+deb12u9
Description: GNU C Library
 Source: not-a-field

Package: libc-bin
Source: glibc
Version: 2.36-9+deb12u9
`;

describe('source packages', () => {
  it('dpkg: a source name covers its binaries, a binary name itself', () => {
    const m = dpkgBinariesOf(STATUS, ['openssl', 'glibc', 'libc6', 'absent']);
    assert.deepEqual(m.get('openssl'), ['libssl3', 'openssl']);
    assert.deepEqual(m.get('glibc'), ['libc-bin', 'libc6']);
    assert.deepEqual(m.get('libc6'), ['libc6']);
    assert.deepEqual(m.get('absent'), []);
  });

  it('rpm: SOURCERPM names the source', () => {
    assert.equal(rpmSourceName('openssl-3.0.7-27.el9.src.rpm'), 'openssl');
    assert.equal(rpmSourceName('java-17-openjdk-17.0.11.0.9-2.el9.nosrc.rpm'), 'java-17-openjdk');
    assert.equal(rpmSourceName('(none)'), null);
    const qa =
      'openssl-libs\topenssl-3.0.7-27.el9.src.rpm\nopenssl\topenssl-3.0.7-27.el9.src.rpm\nglibc\tglibc-2.34-100.el9.src.rpm\ngpg-pubkey\t(none)\n';
    assert.deepEqual(rpmBinariesOf(qa, ['openssl']).get('openssl'), ['openssl', 'openssl-libs']);
  });
});
