import { ConfigError, redact } from '@org/eventbus';

/** scheme://authority rest — the authority is everything up to the path, query or fragment. */
const URL_PARTS = /^([a-z][a-z0-9+.-]*:)\/\/([^/?#]*)([\s\S]*)$/i;

/**
 * The seed URLs of a URL that may list several nodes of one cluster:
 * `amqp://user:pass@rabbit-1:5672,rabbit-2:5672,rabbit-3/vhost?heartbeat=5` gives one URL per host,
 * each with the same credentials, vhost and query. amqplib connects to one URL, so the transport
 * tries the seeds in turn (connection.ts). A URL with one host comes back as it is.
 */
export function splitSeeds(url: string): string[] {
  const parts = URL_PARTS.exec(url);
  if (!parts) return [url];
  const [, scheme, authority = '', rest] = parts;
  const at = authority.lastIndexOf('@');
  const userinfo = authority.slice(0, at + 1);
  const hosts = authority.slice(at + 1).split(',');
  if (hosts.length === 1) return [url];
  if (hosts.some((host) => host.trim() === '')) {
    throw new ConfigError('url', `"${redact(url)}" lists an empty host (expected amqp://user:pass@host1:5672,host2:5672/vhost)`);
  }
  return hosts.map((host) => `${scheme}//${userinfo}${host.trim()}${rest}`);
}
