# frozen_string_literal: true

require 'json'
require 'open3'

Puppet::Type.type(:afterpatch_restart).provide(:cli) do
  desc 'Runs the afterpatch CLI with an argument vector (no shell) and reads its JSON report.'

  def argv
    args = [resource[:cli], 'restart', '--yes', '--json']
    args += ['--package', resource[:package]] if resource[:package]
    args += ['--lib', resource[:lib]] if resource[:lib]
    Array(resource[:units]).each { |u| args += ['--unit', u] }
    args += ['--timeout', resource[:timeout].to_s] if resource[:timeout]
    args
  end

  def restart
    cmd = argv
    what = "afterpatch restart#{resource[:package] ? " --package #{resource[:package]}" : ''}"
    begin
      # [path, argv0] form: Ruby execs the file directly even for a one-element vector.
      stdout, stderr, status = Open3.capture3([cmd[0], cmd[0]], *cmd[1..-1])
    rescue SystemCallError => e
      raise Puppet::Error, "#{what}: cannot run #{cmd[0]}: #{e.message}"
    end
    report = parse(stdout)
    code = status.exitstatus
    # Exit statuses of `afterpatch restart` (docs/restart.md): 0 verified or nothing to do,
    # 1 needs a human, 2 an action failed, 3 usage or runtime error.
    case code
    when 0
      raise Puppet::Error, "#{what}: exit 0 but its JSON report could not be read" if report.nil?
      resource.notice("#{what}: #{verified_summary(report)}")
    when 1
      entries = report ? needs_human(report) : []
      # Exit 1 without such entries: the plan's scan was partial (no root, or no CAP_SYS_PTRACE).
      unread = report.is_a?(Hash) && report['scan'].is_a?(Hash) ? report['scan']['unreadable'].to_i : 0
      if entries.empty? && unread > 0
        entries = ["#{unread} processes could not be read (afterpatch needs root with CAP_SYS_PTRACE): nothing is known of them"]
      end
      entries = ['something needs a human (the JSON report could not be read)'] if entries.empty?
      entries.each { |e| resource.warning("#{what}: needs a human: #{e}") }
      resource.notice("#{what}: #{verified_summary(report)}") if report
    when 2
      (report ? needs_human(report) : []).each { |e| resource.warning("#{what}: needs a human: #{e}") }
      failures = report ? failed(report) : []
      failures = [first_line(stderr) || 'a restart failed (the JSON report could not be read)'] if failures.empty?
      raise Puppet::Error, "#{what} failed: #{failures.join('; ')}"
    else
      detail = first_line(stderr) || (code.nil? ? "killed by signal #{status.termsig}" : "exit #{code}")
      raise Puppet::Error, "#{what}: #{detail}"
    end
  end

  private

  def parse(text)
    doc = JSON.parse(text)
    doc.is_a?(Hash) && doc['format'] == 'afterpatch-restart' ? doc : nil
  rescue JSON::ParserError
    nil
  end

  def first_line(text)
    line = text.to_s.lines.map(&:strip).find { |l| !l.empty? }
    line && clean(line)
  end

  # Unit names, paths and messages may hold anything a local user chose: no control characters
  # reach a terminal or a report.
  def clean(text)
    text.to_s.gsub(%r{[\u0000-\u001f\u007f-\u009f]}) { |c| format('\\x%02x', c.ord) }
  end

  def name_of(entry)
    clean(entry['unit'] || entry['key'] || '?')
  end

  def verified_summary(report)
    done = Array(report['results']).select { |r| r['outcome'] == 'verified' }
    return 'nothing to restart' if done.empty?
    "#{done.length} restarted and verified (#{done.map { |r| name_of(r) }.join(', ')})"
  end

  def needs_human(report)
    Array(report['plan']).select { |p| p['needsHuman'] }.map do |p|
      "#{name_of(p)} (#{clean(p['action'])}: #{clean(p['reason'])})"
    end
  end

  def failed(report)
    Array(report['results']).select { |r| ['still-stale', 'failed', 'timeout'].include?(r['outcome']) }.map do |r|
      text = "#{name_of(r)} #{clean(r['outcome'])}"
      pids = Array(r['stalePids']).map { |s| s['pid'] }.compact
      text += " (PIDs #{pids.join(',')})" unless pids.empty?
      text += ": #{clean(r['message'])}" if r['message'] && !r['message'].to_s.empty?
      text
    end
  end
end
