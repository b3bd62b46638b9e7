/**
 * How many customers one poll fits in the poller's memory: a model fitted to `npm run bench` (the
 * all-new first poll, the most memory-hungry poll: every customer is new, is held until the listing is
 * complete, then journaled, published and committed). docs/performance.md shows the measurements.
 *
 * Peak RSS of a poll of N customers ≈ BASELINE_MB + N × PEAK_BYTES_PER_CUSTOMER, and a configuration is
 * accepted only when that peak, plus HEADROOM, fits the function's memory: at the default 512 MB that is
 * up to 350,523 customers (more than a 15-minute listing reaches), at 256 MB up to 62,914, at 1,024 MB
 * up to 925,742.
 */

/** The poller function's memory when the configuration does not set `pollerMemoryMb`. */
export const DEFAULT_POLLER_MEMORY_MB = 512;
/** Lambda's smallest and largest memory sizes. */
export const MIN_POLLER_MEMORY_MB = 128;
export const MAX_POLLER_MEMORY_MB = 10_240;

/**
 * Peak RSS of an all-new poll of 1,000 customers (137–141 MB measured), rounded up: Node, the SDK and the
 * code (the benchmark runs the TypeScript through tsx, so this is more than the bundled function needs).
 */
export const BASELINE_MB = 150;
/**
 * Growth of the peak per customer, rounded up from the benchmark's all-new polls: 137 MB at 1,000,
 * 191 MB at 100,000, 268 MB at 230,000 customers (about 600 bytes a customer; sandbox records average
 * ~450 bytes of JSON).
 */
export const PEAK_BYTES_PER_CUSTOMER = 700;
/** Share of the memory kept free beyond the model (larger records than the benchmark's, GC timing). */
export const HEADROOM = 0.25;

const MB = 1024 * 1024;

/** The modelled peak RSS (MB) of a poll of `customers`. */
export function peakMemoryMb(customers: number): number {
  return BASELINE_MB + (Math.max(0, customers) * PEAK_BYTES_PER_CUSTOMER) / MB;
}

/** The largest organization (customers) a poller of `memoryMb` polls with HEADROOM to spare; 0 if none. */
export function maxCustomersForMemory(memoryMb: number): number {
  const usable = memoryMb * (1 - HEADROOM) - BASELINE_MB;
  return usable <= 0 ? 0 : Math.floor((usable * MB) / PEAK_BYTES_PER_CUSTOMER);
}

/** The smallest whole memory size (MB) that fits `customers` with HEADROOM, at least Lambda's minimum. */
export function memoryMbForCustomers(customers: number): number {
  return Math.max(MIN_POLLER_MEMORY_MB, Math.ceil(peakMemoryMb(customers) / (1 - HEADROOM)));
}

/**
 * The V8 old-space limit (MB) of the poller function (NODE_OPTIONS) and of the benchmark's poll process: what V8 sizes itself to on a machine
 * with `memoryMb` of memory (a quarter of it, times two for 64-bit pointers, at least 256 MB), as in the
 * Lambda execution environment, instead of the limit it would take on the (larger) benchmark machine.
 */
export function v8OldSpaceMb(memoryMb: number): number {
  return Math.max(256, Math.floor(memoryMb / 2));
}
