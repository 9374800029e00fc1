// The system message bus's units: the reboot check counts stale code in them as "reboot needed"
// (restarting the bus breaks logind, NetworkManager and every login), and the restart safe list
// never restarts them. One list for both.
export const BUS_UNITS: readonly string[] = [
  'dbus.service',
  'dbus-broker.service',
  'dbus-daemon.service',
  'messagebus.service',
];
