import type { IncomingMessage } from 'node:http';

/** Options of {@link OriginGuard}. */
export interface OriginGuardOptions {
  /** The address the server binds; a concrete address (not a wildcard) is accepted as a Host too. */
  bindHost: string;
  /** Extra accepted host names (no port). */
  allowedHosts: string[];
  /** Extra accepted origins (`scheme://host[:port]`). */
  allowedOrigins: string[];
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * DNS-rebinding protection: a request must name an allowed host in `Host` (port ignored), and when it
 * carries an `Origin` (browsers always do), that origin's host must be allowed too. A page on
 * evil.example resolving to 127.0.0.1 sends `Host: evil.example` and is refused.
 */
export class OriginGuard {
  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;

  constructor(options: OriginGuardOptions) {
    const bind = options.bindHost.includes(':') && !options.bindHost.startsWith('[') ? `[${options.bindHost}]` : options.bindHost;
    this.#hosts = new Set([...LOOPBACK, ...options.allowedHosts.map((h) => h.toLowerCase()), ...(WILDCARD.has(bind) ? [] : [bind.toLowerCase()])]);
    this.#origins = new Set(options.allowedOrigins);
  }

  /** Why the request is refused, or `undefined` when it may proceed. */
  check(req: IncomingMessage): string | undefined {
    const host = req.headers.host;
    if (!host) return 'missing Host header';
    const hostname = hostnameOf(host);
    if (!hostname || !this.#hosts.has(hostname)) return `Host "${host}" is not allowed`;
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    if (this.#origins.has(origin)) return undefined;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return `Origin "${origin}" is not allowed`;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `Origin "${origin}" is not allowed`;
    return this.#hosts.has(url.hostname.toLowerCase()) ? undefined : `Origin "${origin}" is not allowed`;
  }
}

/** The host name of a Host header value, without port; IPv6 literals keep their brackets. */
function hostnameOf(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : undefined;
  }
  const colon = h.indexOf(':');
  const name = colon === -1 ? h : h.slice(0, colon);
  return /^[a-z0-9.-]+$/.test(name) ? name : undefined;
}
