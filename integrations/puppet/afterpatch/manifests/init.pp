# @summary Installs afterpatch, writes its configuration and enables its shipped units.
#
# The same choices as the Ansible role (integrations/ansible/roles/afterpatch): install the
# Debian package or copy one executable file, write /etc/afterpatch/afterpatch.toml from a hash
# (checked by `afterpatch config` before it replaces the working file), enable units.
#
# @example From an apt repository, with a configuration and the metrics timer
#   class { 'afterpatch':
#     config       => { 'restart' => { 'never' => ['postgresql*.service'], 'jobs' => 32 } },
#     enable_units => ['afterpatch-metrics.timer'],
#   }
#
# @example The single-file build (needs Node.js >= 18) or the standalone binary, copied to a path
#   class { 'afterpatch':
#     install_method => 'binary',
#     binary_source  => 'puppet:///modules/profile/afterpatch',
#   }
#
# @param install_method
#   `package`: the package `afterpatch` from the configured repositories (`package_ensure`);
#   `deb`: a .deb file already on the node (`deb_source`), installed with apt so that its
#   dependency (nodejs) comes along; `binary`: one executable file (`binary_source`) copied to
#   `binary_path`; `none`: installed some other way, only the configuration is managed.
# @param package_ensure `ensure` of the package for `package` (e.g. `installed`, `latest`, `0.1.0-1`).
# @param deb_source Absolute path of the .deb on the node, for `deb`.
# @param binary_source Any `source` a file resource takes (`puppet:///…`, a local path), for `binary`.
# @param binary_path Where `binary` puts the executable; its directory must exist.
# @param cli The afterpatch command every other resource of this module runs. Default:
#   `binary_path` for `binary`, else /usr/bin/afterpatch (the Debian package's).
# @param config afterpatch.toml as a hash of tables (docs/configuration.md). Empty: the file
#   is left as it is (the package's commented example, or none: all defaults).
# @param config_file The configuration file.
# @param enable_units Units shipped with the package to enable and start, e.g.
#   `['afterpatch-metrics.timer']`.
class afterpatch (
  Enum['package', 'deb', 'binary', 'none'] $install_method = 'package',
  String[1] $package_ensure = 'installed',
  Optional[Pattern[/\A\/.+\.deb\z/]] $deb_source = undef,
  Optional[String[1]] $binary_source = undef,
  Afterpatch::Path $binary_path = '/usr/local/bin/afterpatch',
  Afterpatch::Path $cli = $install_method ? {
    'binary' => $binary_path,
    default  => '/usr/bin/afterpatch',
  },
  Hash[String[1], Hash[String[1], Data]] $config = {},
  Afterpatch::Path $config_file = '/etc/afterpatch/afterpatch.toml',
  Array[Afterpatch::Unit] $enable_units = [],
) {
  if $install_method == 'deb' and $deb_source =~ Undef {
    fail('afterpatch: install_method deb needs deb_source (the .deb on the node)')
  }
  if $install_method == 'binary' and $binary_source =~ Undef {
    fail('afterpatch: install_method binary needs binary_source (where to copy the executable from)')
  }

  contain afterpatch::install
  contain afterpatch::config
  contain afterpatch::service

  Class['afterpatch::install']
  -> Class['afterpatch::config']
  -> Class['afterpatch::service']
}
