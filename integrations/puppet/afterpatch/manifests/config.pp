# @summary Writes afterpatch.toml from `afterpatch::config`, checked by `afterpatch config` first.
# @api private
class afterpatch::config {
  unless $afterpatch::config.empty {
    $dir = $afterpatch::config_file.regsubst(/\/[^\/]+\z/, '')

    file { $dir:
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0755',
    }

    # Puppet writes the new content to a temporary file beside the target and runs the check on
    # it: a configuration afterpatch rejects fails this resource with afterpatch's own one-line
    # message (`FILE:LINE: key: message`) and the working file stays as it was.
    file { $afterpatch::config_file:
      ensure       => file,
      owner        => 'root',
      group        => 'root',
      mode         => '0644',
      content      => afterpatch::to_toml($afterpatch::config),
      validate_cmd => "${afterpatch::cli} config %",
    }
  }
}
