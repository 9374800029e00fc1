// Kernel packages: their version is decided by the running kernel, not by what is installed.
// Apart from host.ts so that the assessment (loaded by every scan's JSON output) does not load
// the host readers and, through them, zlib.

/** Whether a binary package is a kernel image (its version is decided by the running kernel). */
export function isKernelPackage(name: string, manager: 'dpkg' | 'rpm' | null): boolean {
  return manager === 'rpm'
    ? /^kernel(?:-core|-rt-core|-uek(?:-core)?)?$/.test(name)
    : /^linux-image-(?!.*-dbg)/.test(name);
}
