/**
 * Loopback host names: where plain http is allowed (the Nutcache sandbox, a local webhook endpoint), since
 * nothing sent there leaves the machine. Shared by the Nutcache client and webhook delivery.
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** True for localhost, 127.0.0.0/8 and ::1 (a URL's `hostname`, bracketed or not). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
