//! SplitMix64, for tests only: deterministic random cases (feeds to
//! parse, markup to sanitise) without a `rand` dependency, the same on
//! every run and machine.

pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % n.max(1) as u64) as usize
    }
}
