/**
 * Small statistics for the benchmarks: percentiles of a sample, rates, and the formatting of
 * figures in BENCHMARKS.md. Kept apart so every part reports numbers the same way.
 */

/** Summary of a latency sample in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** The `p`-th percentile (0..100) of `values`, nearest-rank; NaN for an empty sample. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

/** A number with sensible precision for a table cell. */
export function fmt(v: number | undefined, digits?: number): string {
  if (v === undefined || v === null || Number.isNaN(v)) return 'n/a';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  const d = digits ?? (a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 2 : 3);
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** Bytes as MiB / KiB. */
export function bytes(v: number): string {
  if (Number.isNaN(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1024 * 1024) return `${fmt(v / (1024 * 1024), 1)} MiB`;
  if (a >= 1024) return `${fmt(v / 1024, 1)} KiB`;
  return `${fmt(v, 0)} B`;
}

/** A seeded PRNG (mulberry32) so failure injection and key choice repeat from run to run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Milliseconds since an arbitrary origin, high resolution. */
export const now = (): number => performance.now();
