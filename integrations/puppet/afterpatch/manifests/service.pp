# @summary Enables and starts the units listed in `afterpatch::enable_units`.
# @api private
class afterpatch::service {
  $afterpatch::enable_units.each |Afterpatch::Unit $unit| {
    service { $unit:
      ensure   => running,
      enable   => true,
      provider => 'systemd',
    }
  }
}
