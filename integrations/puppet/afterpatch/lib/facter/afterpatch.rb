# frozen_string_literal: true

# Structured fact `afterpatch`: what still runs outdated code on this node and whether only a
# reboot helps, from the afterpatch CLI (docs/puppet.md).
#
# A Ruby custom fact rather than an external one: it travels with the module (pluginsync, or
# the modulepath for `puppet apply`) with no executable bit or facts.d path to manage, it runs
# the CLI with an argument vector (no shell) under a timeout, and any failure becomes
# `{ error => … }` instead of failing fact resolution or the Puppet run.
#
# The CLI: $AFTERPATCH_CLI when it is an absolute path, else the first of /usr/bin/afterpatch
# (the Debian package) and /usr/local/bin/afterpatch (the class's `binary` default).
require 'json'
require 'open3'
require 'timeout'

module AfterpatchFact
  CANDIDATES = ['/usr/bin/afterpatch', '/usr/local/bin/afterpatch'].freeze
  # Longest list kept in the fact (PuppetDB stores every fact of every node).
  LIST_MAX = 50
  TIMEOUT_S = 120

  module_function

  def cli
    env = ENV.fetch('AFTERPATCH_CLI', '')
    return env if env.start_with?('/')
    CANDIDATES.find { |p| File.file?(p) && File.executable?(p) }
  end

  # Runs argv (no shell) under the timeout; [stdout, stderr, exit status].
  def run(argv)
    out = err = ''
    status = nil
    Open3.popen3([argv[0], argv[0]], *argv[1..-1]) do |stdin, stdout, stderr, wait|
      stdin.close
      readers = [Thread.new { stdout.read }, Thread.new { stderr.read }]
      begin
        Timeout.timeout(TIMEOUT_S) { status = wait.value }
      rescue Timeout::Error
        Process.kill('KILL', wait.pid)
        wait.value
        raise "#{argv[0]} #{argv[1]} did not answer within #{TIMEOUT_S} s"
      end
      out, err = readers.map(&:value)
    end
    [out, err, status]
  rescue SystemCallError => e
    raise "cannot run #{argv[0]}: #{e.message}"
  end

  # stdout of argv when it exits with one of ok_codes, else raises with afterpatch's message.
  def output(argv, ok_codes)
    out, err, status = run(argv)
    code = status.exitstatus
    return out if ok_codes.include?(code)
    raise(first_line(err) || "#{argv[0]} #{argv[1]} exited #{code.nil? ? "on signal #{status.termsig}" : code}")
  end

  def first_line(text)
    text.to_s.lines.map(&:strip).find { |l| !l.empty? }
  end

  def json(text, format)
    doc = JSON.parse(text)
    raise "unexpected output (not #{format} JSON)" unless doc.is_a?(Hash) && doc['format'] == format
    doc
  rescue JSON::ParserError
    raise "unexpected output (not #{format} JSON)"
  end

  # The one place that asks the CLI for its health snapshot (the scan and the reboot verdict):
  # `check --json`, one scan for both. A CLI older than that (`unknown option`) is asked with
  # `scan --json` and `reboot-required --json` instead.
  def snapshot(path)
    out, err, status = run([path, 'check', '--json'])
    if err.include?("unknown option '--json'")
      scan = json(output([path, 'scan', '--json'], [0, 1]), 'afterpatch-scan')
      reboot = json(output([path, 'reboot-required', '--json'], [0, 1]), 'afterpatch-reboot')
      return { scan: scan, reboot: reboot }
    end
    # On an error check --json prints nothing on standard output and exits 3.
    raise(first_line(err) || "#{path} check exited #{status.exitstatus}") if out.strip.empty?
    health = json(out, 'afterpatch-health')
    scan = health['scan']
    reboot = health['reboot']
    raise 'unexpected output (afterpatch-health without scan or reboot)' unless scan.is_a?(Hash) && reboot.is_a?(Hash)
    { scan: scan, reboot: reboot }
  end

  def clean(text)
    text.to_s.gsub(%r{[\u0000-\u001f\u007f-\u009f]}) { |c| format('\\x%02x', c.ord) }
  end

  def bounded(list)
    list.first(LIST_MAX)
  end

  def reason_text(r)
    case r['type']
    when 'kernel-newer' then "kernel #{r['newest']} installed, #{r['running']} running"
    when 'kernel-rebuilt' then "kernel #{r['release']} rebuilt"
    when 'sentinel' then ([r['file']] + Array(r['packages'])).join(' ')
    when 'stale-package' then "#{r['package']} stale in PIDs #{Array(r['pids']).first(10).join(',')}"
    else r['type'].to_s
    end
  end

  def summarize(snap)
    scan = snap[:scan]
    reboot = snap[:reboot]
    entries = Array(scan['entries']).select { |e| e['severity'] == 'code' }
    pick = ->(*types) { entries.select { |e| types.include?(e['type']) } }
    units = pick.call('init', 'system-unit', 'user-unit', 'user-manager').map { |e| clean(e['unit'] || 'init') }
    sessions = pick.call('session').map { |e| clean(e['session'] || e['unit']) }
    containers = pick.call('container').map { |e| clean("#{e['runtime']}:#{e['id']}") }
    packages = Array(scan['processes']).flat_map { |p| Array(p['files']) }
                                       .select { |f| f['kind'] != 'data' && f['package'] }
                                       .map { |f| clean(f['package']['name']) }.uniq.sort
    reasons = Array(reboot['reasons']).map { |r| clean(reason_text(r)) }
    lists = { 'units' => units, 'sessions' => sessions, 'containers' => containers,
              'packages' => packages, 'reboot_reasons' => reasons }
    fact = {
      'version' => scan['afterpatch'].to_s,
      'needs_restart' => !entries.empty?,
      'needs_reboot' => reboot['required'] == true,
      'processes' => scan.dig('summary', 'processes'),
      'unmanaged' => pick.call('unmanaged').length,
    }
    lists.each do |name, list|
      fact[name] = bounded(list)
      fact["#{name}_count"] = list.length
    end
    fact['truncated'] = lists.values.any? { |l| l.length > LIST_MAX }
    fact
  end

  def resolve
    path = cli
    return { 'error' => "afterpatch not found (#{CANDIDATES.join(', ')}; or set AFTERPATCH_CLI)" } if path.nil?
    snap = snapshot(path)
    # Fail closed: a scan that could not read every process must not say "clean": no root, or
    # root without CAP_SYS_PTRACE (`partial`; an afterpatch without that field: asRoot alone).
    scan = snap[:scan]
    partial = scan['partial'].nil? ? !scan['asRoot'] : scan['partial'] == true
    if partial
      why = scan['asRoot'] ? 'without CAP_SYS_PTRACE' : 'without root'
      return { 'error' => "afterpatch ran #{why}: the scan is partial", 'version' => scan['afterpatch'].to_s }
    end
    summarize(snap)
  rescue StandardError => e
    { 'error' => clean(e.message) }
  end
end

Facter.add(:afterpatch) do
  confine kernel: 'Linux'
  setcode { AfterpatchFact.resolve }
end
