// Recognising, by name alone, a service instance that an Accept=yes socket spawned for one
// connection: for `scan`, `check` and `metrics`, which do not ask systemd. `restart` asks
// systemd instead (TriggeredBy= and the socket's Accept=, src/restart/plan.ts).

// systemd names such instances PREFIX@N-LOCAL-PEER.service (socket.c, instance_from_socket_fd):
// N counts accepted connections; LOCAL-PEER is ADDR:PORT-ADDR:PORT for IPv4/IPv6 (inet_ntop,
// lower-case hex) and vsock (CID:PORT), PID-UID or "unknown" for AF_UNIX.
const ACCEPT_INSTANCE =
  /^([^@/]+)@\d+-(?:\d+-\d+|unknown|[0-9a-f.:]+:\d+-[0-9a-f.:]+:\d+)\.service$/;

/** The socket (PREFIX.socket: Accept=yes allows no Service=) whose connection `unit` serves. */
export function acceptSocketByName(unit: string): string | null {
  const m = ACCEPT_INSTANCE.exec(unit);
  return m ? `${m[1]}.socket` : null;
}

/** The advice for such an instance (the plan's reason in `restart`, the action in `scan`). */
export function perConnectionAdvice(socket: string): string {
  return `per-connection instance of ${socket}: ends when the connection closes`;
}
