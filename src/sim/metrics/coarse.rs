//! A small, fixed log-linear histogram for the per-interval p50 and p99 of the time series.
//!
//! The headline percentiles use hdrhistogram (three significant digits). The time series needs
//! only a chart-grade p99 per interval, but records every latency a second time, and that second
//! record was 6 % of a whole M/M/c run with hdrhistogram (auto-resize checks, min/max upkeep).
//! This one is an index computation and an increment: 64 sub-buckets per power of two (values
//! below 128 exact), so a bucket is at most 1/64 wide and its midpoint is within 0.8 % of any
//! value in it. 15 KB, reset cheaply by remembering the highest bucket used.

/// Sub-buckets per power of two.
const SUB: u64 = 64;
/// Values below this are their own bucket.
const LINEAR: u64 = 2 * SUB;
const BUCKETS: usize = (LINEAR + (64 - 7) * SUB) as usize;

#[derive(Clone, Debug)]
pub struct CoarseHistogram {
    counts: Box<[u32]>,
    total: u64,
    /// One past the highest bucket with a count.
    used: usize,
}

impl Default for CoarseHistogram {
    fn default() -> Self {
        CoarseHistogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            used: 0,
        }
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < LINEAR {
        v as usize
    } else {
        let e = 63 - u64::from(v.leading_zeros()); // floor(log2 v) >= 7
        let m = v >> (e - 6); // in [64, 128)
        (LINEAR + (e - 7) * SUB + (m - SUB)) as usize
    }
}

/// The middle of bucket `i`.
fn midpoint(i: usize) -> f64 {
    let i = i as u64;
    if i < LINEAR {
        i as f64
    } else {
        let e = (i - LINEAR) / SUB + 7;
        let m = (i - LINEAR) % SUB + SUB;
        let lo = m << (e - 6);
        let width = 1u64 << (e - 6);
        lo as f64 + (width as f64 - 1.0) / 2.0
    }
}

impl CoarseHistogram {
    #[inline]
    pub fn record(&mut self, v: u64) {
        let i = index(v);
        self.counts[i] = self.counts[i].saturating_add(1);
        self.total += 1;
        self.used = self.used.max(i + 1);
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &CoarseHistogram) {
        for (a, b) in self.counts[..other.used]
            .iter_mut()
            .zip(&other.counts[..other.used])
        {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
        self.used = self.used.max(other.used);
    }

    /// For each `q` of `qs` (ascending), the smallest recorded value (bucket midpoint) with at
    /// least `q` of the counts at or below it; `NaN` when empty. One pass over the buckets for all
    /// of them (the time series reads two per interval).
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [f64; N] {
        debug_assert!(qs.is_sorted(), "quantiles ascending: {qs:?}");
        if self.total == 0 {
            return [f64::NAN; N];
        }
        let counts = &self.counts[..self.used];
        let (mut i, mut seen) = (0, 0u64);
        qs.map(|q| {
            let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
            // Go on from where the last quantile stopped; bucket `i - 1` is the first whose
            // running count reaches `rank` (the last bucket if saturated counts fall short).
            while seen < rank && i < counts.len() {
                seen += u64::from(counts[i]);
                i += 1;
            }
            midpoint(i - 1)
        })
    }

    pub fn reset(&mut self) {
        self.counts[..self.used].fill(0);
        self.total = 0;
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i >= last, "{v}");
            assert!(i < BUCKETS);
            last = i;
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    proptest! {
        #[test]
        fn quantiles_within_one_percent(values in proptest::collection::vec(1u64..10_000_000_000, 1..2000), q in 0.0f64..1.0) {
            let mut h = CoarseHistogram::default();
            for v in &values {
                h.record(*v);
            }
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            let exact = sorted[rank - 1] as f64;
            let got = h.quantiles([q])[0];
            prop_assert!((got - exact).abs() <= exact * 0.008 + 0.5, "q {} exact {} got {}", q, exact, got);
        }
    }

    #[test]
    fn quantiles_in_one_pass_match_one_at_a_time() {
        let mut h = CoarseHistogram::default();
        assert!(h.quantiles([0.5, 0.99]).iter().all(|x| x.is_nan()));
        for v in (0..5000u64).map(|i| i * i % 7919 + 3) {
            h.record(v);
        }
        let qs = [0.0, 0.5, 0.5, 0.9, 0.99, 1.0];
        let one = qs.map(|q| h.quantiles([q])[0]);
        assert_eq!(h.quantiles(qs), one);
    }

    #[test]
    fn add_and_reset() {
        let mut a = CoarseHistogram::default();
        let mut b = CoarseHistogram::default();
        for v in 0..1000 {
            a.record(v);
            b.record(v + 1000);
        }
        a.add(&b);
        assert!(
            (a.quantiles([0.5])[0] - 999.0).abs() < 16.0,
            "{}",
            a.quantiles([0.5])[0]
        );
        a.reset();
        assert_eq!(a.total, 0);
        assert!(a.quantiles([0.99])[0].is_nan());
    }
}
