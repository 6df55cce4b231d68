//! Named random-number substreams derived from one scenario seed.
//!
//! Every source of randomness (the arrivals of one workload, the service times of one pool, the
//! dispatcher of one workload) draws from its own stream, keyed by a name such as
//! `"arrivals/chat"`. Adding a workload or a pool therefore never changes the draws of another,
//! and two fleets compared under one seed see the same arrivals (common random numbers).
//!
//! The generator is PCG-64 MCG (`rand_pcg::Pcg64Mcg`): small, fast and statistically sound. The
//! derivation (FNV-1a of the name, mixed with the seed by SplitMix64) is fixed here, so a seed
//! means the same streams on every platform and in every version of this file's contract.

use rand_pcg::Pcg64Mcg;

/// The generator every substream uses.
pub type Stream = Pcg64Mcg;

/// SplitMix64 finaliser: a bijective mix of 64 bits (Steele, Lea and Flood, 2014).
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The stream called `name` under `seed`.
pub fn substream(seed: u64, name: &str) -> Stream {
    let key = fnv1a(name);
    let hi = splitmix64(seed ^ key);
    let lo = splitmix64(hi ^ seed.rotate_left(32) ^ 0x5851_f42d_4c95_7f2d);
    // The MCG state must be odd; `Pcg64Mcg::new` forces the low bit.
    Pcg64Mcg::new((u128::from(hi) << 64) | u128::from(lo))
}

/// The seed of replication `index` under a master seed. Replication 0 uses the master seed itself,
/// so one replication reproduces a plain run.
pub fn replication_seed(master: u64, index: u64) -> u64 {
    if index == 0 {
        master
    } else {
        splitmix64(master ^ splitmix64(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a1: Vec<u64> = (0..4)
            .map(|_| substream(7, "arrivals/a").next_u64())
            .collect();
        let mut s = substream(7, "arrivals/a");
        let a2: Vec<u64> = (0..4).map(|_| s.next_u64()).collect();
        assert_eq!(a1[0], a2[0]);
        let mut b = substream(7, "arrivals/b");
        let mut c = substream(8, "arrivals/a");
        let first = substream(7, "arrivals/a").next_u64();
        assert_ne!(first, b.next_u64());
        assert_ne!(first, c.next_u64());
    }

    #[test]
    fn replication_zero_is_the_master_seed() {
        assert_eq!(replication_seed(42, 0), 42);
        assert_ne!(replication_seed(42, 1), 42);
        assert_ne!(replication_seed(42, 1), replication_seed(42, 2));
    }
}
