// Virtual machine guests: a qemu process is a whole guest, not a service. Restarting it kills the
// guest, and a reboot inside the guest keeps the same process; so it is an owner of its own kind.
import type { Owner } from '../scan/model.ts';

/** `comm` of qemu: `qemu-system-x86` (cut to 15 bytes), RHEL's `qemu-kvm`, Debian's old `kvm`. */
const QEMU_COMM = /^(?:qemu-system-|qemu-kvm$|kvm$)/;
/** libvirt's machine name for a qemu domain: `qemu-<domain id>-<name>` (older: `qemu-<name>`). */
const LIBVIRT_MACHINE = /^qemu-(?:[0-9]+-)?(.+)$/;
/** A guest name is shown to people and kept in the state file: bounded like a unit name. */
const MAX_NAME = 255;

export function isQemu(comm: string | null): boolean {
  return comm !== null && QEMU_COMM.test(comm);
}

/**
 * Whether a process whose first mapped file is `exe` can be qemu: the maps show the file itself
 * (a `kvm` symlink resolved to `qemu-system-x86_64`), so anything not named qemu… or kvm… is not.
 */
export function mayBeQemu(exe: string): boolean {
  const base = exe.lastIndexOf('/') + 1;
  return exe.startsWith('qemu', base) || exe.startsWith('kvm', base);
}

/** The guest name qemu was given: `-name guest=NAME,…` (libvirt) or `-name NAME[,…]`. */
export function qemuGuestName(argv: readonly string[]): string | null {
  const at = argv.findIndex((a) => a === '-name' || a === '--name');
  const value = at === -1 ? undefined : argv[at + 1];
  if (value === undefined) return null;
  // qemu's option syntax: "," separates keys, ",," is a literal comma.
  const fields = value.split(/(?<!,),(?!,)/).map((f) => f.replaceAll(',,', ','));
  const guest = fields.find((f) => f.startsWith('guest='));
  const name = guest === undefined ? fields[0] : guest.slice('guest='.length);
  return name === undefined || name === '' || (guest === undefined && name.includes('='))
    ? null
    : name.slice(0, MAX_NAME);
}

/**
 * The guest a process is, or null. A machined scope with libvirt's qemu name is a guest whatever
 * its process is called; any other process is one when its command name is qemu's. Containers
 * of other runtimes stay containers: their processes come from an image, not from the host.
 */
export function guestOwner(
  owner: Owner,
  proc: {
    pid: number;
    cgroup: string | null;
    /** Read only when needed: the scan reads them for stale processes alone. */
    comm: () => string | null;
    argv: () => readonly string[] | null;
  },
): Owner | null {
  const machine = owner.type === 'container' && owner.runtime === 'machine';
  if (owner.type === 'container' && !machine) return null;
  const libvirt = machine ? LIBVIRT_MACHINE.exec(owner.id) : null;
  if (libvirt === null && !isQemu(proc.comm())) return null;
  const argv = proc.argv();
  const named = argv === null ? null : qemuGuestName(argv);
  const cgroup = proc.cgroup;
  if (libvirt?.[1] !== undefined) {
    return { type: 'vm', hypervisor: 'libvirt', name: named ?? libvirt[1], cgroup };
  }
  return {
    type: 'vm',
    hypervisor: machine ? 'machined' : 'qemu',
    name: named ?? (owner.type === 'container' ? owner.id : `pid-${proc.pid}`),
    cgroup,
  };
}
