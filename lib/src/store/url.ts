import { ConfigError, InvalidInputError, formatDetails, type ErrorDetails, type KVLabError } from '../runtime/errors';
import { parseByteSize } from './checks';

/** A Redis server address. */
export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Settings a store URL can carry in its query string (`?namespace=…&ttl=…`). */
export interface StoreUrlParams {
  /** `namespace=` — the short id in every key. */
  namespace?: string;
  /** `prefix=` — first part of every key. */
  prefix?: string;
  /** `name=` — the store's `store` metrics label. */
  name?: string;
  /** `ttl=` — seconds (0 = none). */
  ttlSeconds?: number;
  /** `maxValueBytes=` — e.g. `8mib`. */
  maxValueBytes?: number;
  /** `timeout=` / `commandTimeout=` — ms per operation. */
  commandTimeout?: number;
  /** `connectTimeout=` — ms. */
  connectTimeout?: number;
  /** `maxBytes=` — budget of a `memory://` store. */
  maxBytes?: number;
  /** `l1=` — put a memory tier of this many bytes in front of Redis (gives a TieredStore). */
  l1Bytes?: number;
}

/**
 * A store URL taken apart by {@link parseStoreUrl}: kind, TLS, nodes, credentials, database and the
 * query parameters, plus the URL with the password redacted.
 */
export interface ParsedStoreUrl extends StoreUrlParams {
  kind: 'memory' | 'redis' | 'cluster';
  /** `rediss://`: connect with TLS. */
  tls: boolean;
  /** One node for `redis`, every startup node for `cluster`, none for `memory`. */
  nodes: RedisEndpoint[];
  username?: string;
  password?: string;
  db?: number;
  /** The URL with any password replaced by `***`: safe to log. */
  redacted: string;
}

export const DEFAULT_REDIS_PORT = 6379;

const PARAMS: Record<string, keyof StoreUrlParams> = {
  namespace: 'namespace',
  prefix: 'prefix',
  name: 'name',
  ttl: 'ttlSeconds',
  ttlseconds: 'ttlSeconds',
  maxvaluebytes: 'maxValueBytes',
  timeout: 'commandTimeout',
  commandtimeout: 'commandTimeout',
  connecttimeout: 'connectTimeout',
  maxbytes: 'maxBytes',
  l1: 'l1Bytes',
};

const SCHEMES: Record<string, { kind: ParsedStoreUrl['kind']; tls: boolean }> = {
  redis: { kind: 'redis', tls: false },
  rediss: { kind: 'redis', tls: true },
  'redis+cluster': { kind: 'cluster', tls: false },
  'rediss+cluster': { kind: 'cluster', tls: true },
  'redis-cluster': { kind: 'cluster', tls: false },
  memory: { kind: 'memory', tls: false },
};

/**
 * The URL with credentials hidden, for messages and logs: everything between `scheme://` and the
 * last `@` becomes `***`, and `password=` query values are masked.
 */
export function redactStoreUrl(url: string): string {
  let s = String(url);
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    const schemeEnd = s.indexOf('://');
    const start = schemeEnd >= 0 && schemeEnd < at ? schemeEnd + 3 : 0;
    s = `${s.slice(0, start)}***${s.slice(at)}`;
  }
  return s.replace(/((?:pass(?:word)?|pwd|auth)=)[^&#]*/gi, '$1***');
}

/**
 * Parse a store URL:
 * - `memory://[?maxBytes=256mib]`
 * - `redis://[user[:password]@]host[:port][/db][?params]`, `rediss://…` for TLS
 * - a cluster: `redis+cluster://[user:password@]h1:p1,h2:p2,…[?params]` (also `rediss+cluster://`),
 *   or a comma-separated list of node URLs `redis://h1:p1,redis://h2:p2`, or several hosts in one
 *   `redis://` URL.
 *
 * Percent-encode `/ ? # @ ,` in user names and passwords. Errors are `ConfigError`s whose messages
 * never contain the password.
 */
export function parseStoreUrl(url: string): ParsedStoreUrl {
  if (typeof url !== 'string') throw InvalidInputError.at('url', 'a store URL string', url);
  const input = url.trim();
  const redacted = redactStoreUrl(input);
  // Details name the part of the URL and carry only pieces that cannot hold the password (scheme,
  // host, port, parameter names); the message shows the URL redacted.
  const fail: Fail = (d) => new ConfigError({ ...d, message: `invalid store URL "${redacted}": ${formatDetails(d)}` });
  if (input === '') throw new ConfigError({ path: 'url', expected: 'a store URL', received: 'an empty string' });

  const parts = input.split(/,(?=\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)/).map((p) => p.trim());
  const parsed = parts.map((p) => parseOne(p, fail));
  const first = parsed[0]!;
  const out: ParsedStoreUrl = { kind: first.kind, tls: first.tls, nodes: [], redacted };
  for (const p of parsed) {
    if (p.kind === 'memory' && parsed.length > 1) throw fail({ path: 'url', expected: 'memory:// alone (it cannot be part of a list of nodes)', received: 'a list of nodes' });
    if (p.tls !== first.tls) throw fail({ path: 'url', expected: 'nodes that all use TLS (rediss://) or none (redis://)', received: 'a list that mixes TLS and plain nodes' });
    out.nodes.push(...p.nodes);
    if (p.username !== undefined || p.password !== undefined) {
      if (out.username === undefined && out.password === undefined) {
        out.username = p.username;
        out.password = p.password;
      } else if (out.username !== p.username || out.password !== p.password) {
        throw fail({ path: 'url.credentials', expected: 'the same credentials on every node of a list', received: 'different credentials' });
      }
    }
    if (p.db !== undefined) out.db = p.db;
    for (const [k, v] of Object.entries(p.params)) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (out.username === undefined) delete out.username;
  if (out.password === undefined) delete out.password;
  if (out.kind === 'memory') {
    if (out.l1Bytes !== undefined) throw fail({ path: 'url.query.l1', expected: 'no l1= on memory:// (it only applies to Redis URLs)', received: String(out.l1Bytes) });
    return out;
  }
  if (out.nodes.length === 0) throw fail({ path: 'url.host', expected: 'at least one host', received: 'no host' });
  if (out.nodes.length > 1 || parsed.length > 1) out.kind = 'cluster';
  if (out.kind === 'cluster' && out.db !== undefined && out.db !== 0) {
    throw fail({ path: 'url.db', expected: 'database 0 (Redis Cluster only has database 0)', received: String(out.db) });
  }
  return out;
}

interface OnePart {
  kind: ParsedStoreUrl['kind'];
  tls: boolean;
  nodes: RedisEndpoint[];
  username?: string;
  password?: string;
  db?: number;
  params: StoreUrlParams;
}

type Fail = (details: ErrorDetails) => ConfigError;

function parseOne(s: string, fail: Fail): OnePart {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(s);
  if (!m) throw fail({ path: 'url', expected: 'redis://, rediss://, redis+cluster:// or memory://', received: 'no scheme' });
  const scheme = SCHEMES[m[1]!.toLowerCase()];
  if (!scheme) {
    throw fail({ path: 'url.scheme', expected: 'a known scheme: redis, rediss, redis+cluster, rediss+cluster or memory', received: `unknown scheme "${m[1]!.slice(0, 32)}"` });
  }
  const rest = m[2]!;
  const authEnd = rest.search(/[/?#]/);
  const authority = authEnd < 0 ? rest : rest.slice(0, authEnd);
  const tail = authEnd < 0 ? '' : rest.slice(authEnd);
  const out: OnePart = { kind: scheme.kind, tls: scheme.tls, nodes: [], params: {} };

  let hostsPart = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    hostsPart = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    try {
      const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
      if (user !== '') out.username = user;
      if (colon >= 0) out.password = decodeURIComponent(userinfo.slice(colon + 1));
    } catch {
      throw fail({ path: 'url.credentials', expected: 'a user name and password in valid percent-encoding', received: 'invalid percent-encoding' });
    }
  } else if (tail.includes('@')) {
    throw fail({
      path: 'url.credentials',
      expected: 'credentials before the host',
      received: "'@' after the host",
      hint: "Percent-encode '/', '?', '#' and '@' in user names and passwords.",
    });
  }

  // Path (database number) and query.
  const hashAt = tail.indexOf('#');
  const noFragment = hashAt < 0 ? tail : tail.slice(0, hashAt);
  const q = noFragment.indexOf('?');
  const path = q < 0 ? noFragment : noFragment.slice(0, q);
  const query = q < 0 ? '' : noFragment.slice(q + 1);

  if (scheme.kind === 'memory') {
    if (hostsPart !== '' || (path !== '' && path !== '/')) throw fail({ path: 'url', expected: 'memory:// with no host or path, only ?maxBytes=', received: 'a host or path' });
    if (at >= 0) throw fail({ path: 'url.credentials', expected: 'none (memory:// takes no credentials)', received: 'credentials' });
  } else {
    for (const h of hostsPart.split(',')) out.nodes.push(parseHost(h.trim(), fail));
    if (path !== '' && path !== '/') {
      const dbText = path.slice(1);
      if (!/^\d{1,9}$/.test(dbText)) throw fail({ path: 'url.db', expected: 'a database number as the path', received: JSON.stringify(dbText.slice(0, 20)) });
      out.db = Number(dbText);
    }
  }

  if (query !== '') {
    for (const [rawKey, value] of new URLSearchParams(query)) {
      const key = PARAMS[rawKey.toLowerCase()];
      if (!key) {
        throw fail({
          path: `url.query.${rawKey.slice(0, 32)}`,
          expected: `a known parameter: ${[...new Set(Object.keys(PARAMS))].join(', ')}`,
          received: `unknown parameter "${rawKey.slice(0, 32)}"`,
          hint: 'Credentials go before the host.',
        });
      }
      out.params[key] = parseParam(key, value, fail) as never;
    }
  }
  return out;
}

function parseHost(h: string, fail: Fail): RedisEndpoint {
  if (h === '') throw fail({ path: 'url.host', expected: 'a host name or address', received: 'an empty host' });
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(h);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const colon = h.lastIndexOf(':');
    host = colon < 0 ? h : h.slice(0, colon);
    portText = colon < 0 ? undefined : h.slice(colon + 1);
    if (!/^[A-Za-z0-9._-]+$/.test(host)) throw fail({ path: 'url.host', expected: 'a host name of [A-Za-z0-9._-] or [IPv6]', received: `invalid host "${host.slice(0, 64)}"` });
  }
  let port = DEFAULT_REDIS_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw fail({ path: 'url.port', expected: 'a port in 1–65535', received: `invalid port "${portText.slice(0, 16)}"` });
    }
    port = Number(portText);
  }
  return { host, port };
}

function parseParam(key: keyof StoreUrlParams, value: string, fail: Fail): string | number {
  const int = (what: string): number => {
    if (!/^\d+$/.test(value)) throw fail({ path: `url.query.${what}`, expected: 'a non-negative integer', received: JSON.stringify(value.slice(0, 32)) });
    return Number(value);
  };
  const size = (what: string): number => {
    try {
      return parseByteSize(value, `url.query.${what}`);
    } catch (err) {
      throw fail((err as KVLabError).details);
    }
  };
  switch (key) {
    case 'namespace':
    case 'prefix':
    case 'name':
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw fail({ path: `url.query.${key}`, expected: '1–64 characters of [A-Za-z0-9._-]', received: JSON.stringify(value.slice(0, 32)) });
      return value;
    case 'ttlSeconds':
      return int('ttl');
    case 'commandTimeout':
      return int('timeout');
    case 'connectTimeout':
      return int('connectTimeout');
    case 'maxValueBytes':
      return size('maxValueBytes');
    case 'maxBytes':
      return size('maxBytes');
    case 'l1Bytes':
      return size('l1');
  }
}
