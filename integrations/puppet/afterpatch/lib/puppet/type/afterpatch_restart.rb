# frozen_string_literal: true

Puppet::Type.newtype(:afterpatch_restart) do
  @doc = <<-DOC
    @summary Runs `afterpatch restart` when notified, and only then (like an exec with
      `refreshonly`), mapping its exit status to Puppet's outcome.

    Normally declared through the defined type `afterpatch::restart_after`:

        package { 'libc6': ensure => latest }
        ~> afterpatch::restart_after { 'libc6': }

    On refresh it runs `CLI restart --yes --json --package NAME` (plus `--lib`, `--unit`,
    `--timeout` when given) as an argument vector, never through a shell, and:
    - exit 0 (every unit verified, or nothing to do): a notice saying what was restarted;
    - exit 1 (something needs a human: a session, a container, a unit on the safe list): one
      warning per entry in the report; the run does not fail;
    - exit 2 (a restart failed, timed out or left stale processes) and 3 (usage or runtime
      error), or a report that cannot be read: the resource fails with afterpatch's message.
    Without an event it does nothing, so a run where the package did not change is a no-op.
  DOC

  newparam(:name, namevar: true) do
    desc 'A name for the resource (by default the package to restart after).'
  end

  newparam(:package) do
    desc "Restart only units mapping stale files of this package (`--package`); `false`: any
      package. Defaults to the title."
    defaultto { @resource[:name] }
    munge { |v| [false, :false, 'false'].include?(v) ? false : v }
    validate do |v|
      next if [false, :false, 'false'].include?(v)
      unless v.is_a?(String) && v.match?(%r{\A[A-Za-z0-9][A-Za-z0-9+._-]*\z})
        raise ArgumentError, "package must be a Debian/RPM package name or false, not #{v.inspect}"
      end
    end
  end

  newparam(:lib) do
    desc 'Restart only units mapping stale files whose path matches this regular expression (`--lib`).'
    validate { |v| raise ArgumentError, 'lib must be a non-empty string' unless v.is_a?(String) && !v.empty? }
  end

  newparam(:units, array_matching: :all) do
    desc 'Restart only these units (globs, `--unit`, repeatable).'
    defaultto []
    validate do |v|
      Array(v).each { |u| raise ArgumentError, 'each unit must be a non-empty string' unless u.is_a?(String) && !u.empty? }
    end
  end

  newparam(:timeout) do
    desc 'Seconds afterpatch waits for one batch of units (`--timeout`); default: its configuration.'
    validate do |v|
      raise ArgumentError, "timeout must be a positive integer, not #{v.inspect}" unless v.to_s.match?(%r{\A[1-9][0-9]*\z})
    end
  end

  newparam(:cli) do
    desc 'The afterpatch executable (absolute path).'
    defaultto '/usr/bin/afterpatch'
    validate { |v| raise ArgumentError, "cli must be an absolute path, not #{v.inspect}" unless v.is_a?(String) && v.start_with?('/') }
  end

  # Called by Puppet for each event this resource receives (subscribe/notify); never otherwise.
  def refresh
    provider.restart
  end
end
