# @summary Installs afterpatch the way `afterpatch::install_method` says.
# @api private
class afterpatch::install {
  case $afterpatch::install_method {
    'package': {
      package { 'afterpatch':
        ensure => $afterpatch::package_ensure,
      }
    }
    'deb': {
      # apt (not dpkg) installs a local .deb with its dependencies.
      package { 'afterpatch':
        ensure   => installed,
        provider => 'apt',
        source   => $afterpatch::deb_source,
      }
    }
    'binary': {
      file { $afterpatch::binary_path:
        ensure => file,
        source => $afterpatch::binary_source,
        owner  => 'root',
        group  => 'root',
        mode   => '0755',
      }
    }
    default: {}
  }
}
