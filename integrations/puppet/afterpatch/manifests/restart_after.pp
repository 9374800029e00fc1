# @summary Restarts what still runs a package's old code, when (and only when) notified.
#
# Notify it from the package resource; a run in which the package does not change does nothing.
# `afterpatch restart --yes --json --package NAME` runs as an argument vector (no shell) and its
# exit status decides the outcome: every unit verified → a notice; something needs a human
# (sessions, containers, units on the safe list) → a warning in the report, the run goes on;
# a restart failed, timed out or left stale processes, or afterpatch could not run → this
# resource fails with afterpatch's message. docs/puppet.md has the whole mapping.
#
# @example
#   package { 'libc6': ensure => latest }
#   ~> afterpatch::restart_after { 'libc6': }
#
# @param package Restart units mapping stale files of this package (`--package`, default: the
#   title); `false` for any package (then narrow it with `lib` or `units`). A package name
#   never starts with `-`, so it cannot be read as another option.
# @param lib Only units mapping stale files whose path matches this regular expression (`--lib`).
# @param units Only these units (globs, `--unit`).
# @param timeout Seconds to wait for one batch of units (`--timeout`); default: afterpatch's configuration.
# @param cli The afterpatch executable; default: the class afterpatch's `cli` when that class is
#   declared before, else /usr/bin/afterpatch.
define afterpatch::restart_after (
  Variant[Pattern[/\A[A-Za-z0-9][A-Za-z0-9+._-]*\z/], Boolean[false]] $package = $title,
  Optional[String[1]] $lib = undef,
  Array[String[1]] $units = [],
  Optional[Integer[1]] $timeout = undef,
  Optional[Afterpatch::Path] $cli = undef,
) {
  $_cli = $cli.lest || { getvar('afterpatch::cli').lest || { '/usr/bin/afterpatch' } }

  afterpatch_restart { $title:
    package => $package,
    lib     => $lib,
    units   => $units,
    timeout => $timeout,
    cli     => $_cli,
  }

  # The configuration (restart.never, …) is in place before anything is restarted.
  if defined(Class['afterpatch']) {
    Class['afterpatch'] -> Afterpatch_restart[$title]
  }
}
