#!/bin/sh
# In-namespace setup for the systemd test sandbox (see docs/testing-systemd-sandbox.md).
#
# A fixed script: every value arrives as an argv element and is only ever used as a quoted
# word ("$x"), never evaluated as shell code.
#
#   sandbox-stage.sh stage1 CGROUP_PROCS SYSTEMD STATE HOSTNAME [INSIDE HOSTDIR]...
#
# stage1 runs as PID 1 of the fresh PID/mount/UTS/IPC(/net) namespaces that `unshare` made on the
# host. It moves itself into the sandbox's cgroup, then re-executes this script as stage2 inside
# a new cgroup namespace rooted at that cgroup. stage2 prepares the mount namespace and finally
# replaces itself with systemd, which therefore keeps PID 1.
set -eu

stage=$1
shift

case "$stage" in
stage1)
  procs=$1
  shift
  # Join the sandbox cgroup first ("0" = the writing process), and only then unshare the cgroup
  # namespace, so the namespace root is the sandbox cgroup and the host-side unshare process
  # (our parent) is never inside it.
  echo 0 >"$procs"
  exec unshare --cgroup -- /bin/sh "$0" stage2 "$@"
  ;;
stage2) ;;
*)
  echo "sandbox-stage.sh: unknown stage" >&2
  exit 2
  ;;
esac

systemd=$1
state=$2
name=$3
shift 3

# `mount -n` everywhere: never write the host's /run/mount/utab (or /etc/mtab).
hostname "$name"

# Private /run: systemd's runtime state, the journal (/run/log/journal) and the unit masks.
mount -n -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
cp -a "$state/run/." /run/

# Units the tests install, and a machine identity of our own.
mount -n --bind "$state/units" /etc/systemd/system
mount -n --bind "$state/machine-id" /etc/machine-id
# systemd sets the hostname from /etc/hostname at boot: give it ours, not the host's.
if [ -e /etc/hostname ]; then
  mount -n --bind "$state/hostname" /etc/hostname
fi

# Nothing the sandbox logs or stamps may land in the host's persistent state.
if [ -d /var/log/journal ]; then
  mount -n -t tmpfs -o mode=2755,nosuid,nodev tmpfs /var/log/journal
fi
mount -n -t tmpfs -o mode=0755,nosuid,nodev tmpfs /var/lib/systemd

# systemd writes its early log and status lines to the console and to kmsg: regular files here.
mount -n --bind "$state/console" /dev/console
mount -n --bind "$state/kmsg" /dev/kmsg

# Caller-supplied per-sandbox directories (INSIDE HOSTDIR pairs).
while [ "$#" -ge 2 ]; do
  mount -n --bind "$2" "$1"
  shift 2
done

# The cgroup namespace makes a fresh cgroup2 mount show only the sandbox's subtree; systemd sees
# cgroup2 on /sys/fs/cgroup and runs in unified mode without any kernel flag.
umount -n -R /sys/fs/cgroup
mount -n -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup

# Keep the host's kernel knobs out of reach (per-mount read-only flags; the cgroup2 mount below
# /sys stays writable).
mount -n -o remount,bind,ro /sys
mount -n --bind /proc/sys /proc/sys
mount -n -o remount,bind,ro /proc/sys
if [ -e /proc/sysrq-trigger ]; then
  mount -n --bind /proc/sysrq-trigger /proc/sysrq-trigger
  mount -n -o remount,bind,ro /proc/sysrq-trigger
fi

exec env -i container=afterpatch-test \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "$systemd" --system
