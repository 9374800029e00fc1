# @summary A systemd unit name shipped with afterpatch (e.g. `afterpatch-metrics.timer`).
type Afterpatch::Unit = Pattern[/\A[A-Za-z0-9@_.:-]+\.(service|timer|socket|path)\z/]
