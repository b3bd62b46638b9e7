/**
 * The release of nutcache-cdc, kept in step with package.json by hand: reading package.json at run time is
 * awkward inside esbuild bundles. Sent in the `User-Agent` header of every Nutcache request.
 */
export const VERSION = '0.1.0';

/** The `User-Agent` every request to Nutcache carries. */
export const USER_AGENT = `nutcache-cdc/${VERSION} (+https://github.com/nutcache-cdc)`;
