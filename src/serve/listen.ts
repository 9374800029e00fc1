// `--listen` addresses: HOST:PORT, [IPv6]:PORT or :PORT (every address).
import { isIPv4, isIPv6 } from 'node:net';

export interface ListenAddress {
  /** Undefined for ":PORT" (every address, IPv6 and IPv4). */
  host: string | undefined;
  port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parses a listen address; throws an Error whose message is a one-line explanation. */
export function parseListen(addr: string): ListenAddress {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const bad = (why: string) =>
    new Error(
      `--listen "${addr}": ${why} (expected HOST:PORT, [IPv6]:PORT or :PORT, e.g. 127.0.0.1:9789).`,
    );
  if (!m) throw bad('not an address with a port');
  const [, v6, other, portText] = m;
  const port = Number(portText);
  if (port > 65535) throw bad('port must be 0 to 65535');
  if (v6 !== undefined) {
    if (!isIPv6(v6)) throw bad(`"${v6}" is not an IPv6 address`);
    return { host: v6, port };
  }
  if (other === undefined || other === '') return { host: undefined, port };
  if (!isIPv4(other) && !(HOSTNAME.test(other) && !/^[\d.]+$/.test(other)))
    throw bad(`"${other}" is not an IPv4 address or host name`);
  return { host: other, port };
}

/** The URL host part for an address as listened on (brackets around IPv6). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
