//! CPython 3.11's `random.Random` (the Mersenne Twister of
//! `Modules/_randommodule.c`, its integer and string seeding, and the
//! `sample` of `Lib/random.py`).
//!
//! Salt's `random_sample` and `random_shuffle` filters compute
//! `random.Random(salt.utils.data.hash(seed)).sample(value, size)`, and that
//! `hash` is a SHA-512 hex digest, not Python's per-process `hash()`: a
//! seeded sample is the same on every run, so Brine must pick the very same
//! items in the very same order as Salt does.

use std::collections::HashSet;

const STATE_WORDS: usize = 624;
const SHIFT_WORDS: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// Python's `random.Random` generator state.
pub(crate) struct PyRandom {
    state: [u32; STATE_WORDS],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a `str` seed (version 2 seeding): the
    /// integer whose big-endian bytes are the UTF-8 text followed by its
    /// SHA-512 digest.
    pub(crate) fn from_text(seed: &str) -> Self {
        let mut bytes = seed.as_bytes().to_vec();
        bytes.extend_from_slice(
            ring::digest::digest(&ring::digest::SHA512, seed.as_bytes()).as_ref(),
        );
        Self::from_big_endian(&bytes)
    }

    /// `random.Random(n)` for the non-negative integer with these
    /// big-endian bytes: its 32-bit words from the least significant one
    /// (zero is one word).
    fn from_big_endian(bytes: &[u8]) -> Self {
        let significant = bytes
            .iter()
            .position(|&b| b != 0)
            .map_or(&[][..], |i| &bytes[i..]);
        let mut key: Vec<u32> = significant
            .rchunks(4)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(0u32, |word, &b| (word << 8) | u32::from(b))
            })
            .collect();
        if key.is_empty() {
            key.push(0);
        }
        Self::from_key(&key)
    }

    /// Seeds from the operating system's randomness (Python's
    /// `random.Random()` without a seed).
    pub(crate) fn from_entropy() -> Self {
        use ring::rand::SecureRandom as _;
        let mut bytes = [0u8; 32];
        // Without OS randomness the sequence stays valid, only predictable.
        let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
        let key: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Self::from_key(&key)
    }

    fn from_genrand(seed: u32) -> Self {
        let mut state = [0u32; STATE_WORDS];
        state[0] = seed;
        for i in 1..STATE_WORDS {
            let previous = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(previous ^ (previous >> 30))
                .wrapping_add(i as u32);
        }
        Self {
            state,
            index: STATE_WORDS,
        }
    }

    /// The reference `init_by_array` of Matsumoto and Nishimura.
    fn from_key(key: &[u32]) -> Self {
        let mut rng = Self::from_genrand(19_650_218);
        let mt = &mut rng.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..STATE_WORDS.max(key.len()) {
            let previous = mt[i - 1];
            mt[i] = (mt[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= STATE_WORDS {
                mt[0] = mt[STATE_WORDS - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..STATE_WORDS - 1 {
            let previous = mt[i - 1];
            mt[i] = (mt[i] ^ (previous ^ (previous >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= STATE_WORDS {
                mt[0] = mt[STATE_WORDS - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        rng
    }

    fn twist(&mut self) {
        let mt = &mut self.state;
        let mix = |upper: u32, lower: u32| {
            let y = (upper & UPPER_MASK) | (lower & LOWER_MASK);
            (y >> 1) ^ if y & 1 == 1 { MATRIX_A } else { 0 }
        };
        for k in 0..STATE_WORDS {
            let next = mt[(k + 1) % STATE_WORDS];
            mt[k] = mt[(k + SHIFT_WORDS) % STATE_WORDS] ^ mix(mt[k], next);
        }
        self.index = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= STATE_WORDS {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)` for `k <= 64`: 32-bit words from the least
    /// significant one, the last word keeping only its top bits.
    fn getrandbits(&mut self, bits: u32) -> u64 {
        if bits == 0 {
            return 0;
        }
        if bits <= 32 {
            return u64::from(self.next_u32() >> (32 - bits));
        }
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32() >> (64 - bits));
        (high << 32) | low
    }

    /// `_randbelow_with_getrandbits(n)`: a uniform integer in `[0, n)`.
    fn randbelow(&mut self, n: usize) -> usize {
        let bits = usize::BITS - n.leading_zeros();
        loop {
            let r = self.getrandbits(bits);
            if r < n as u64 {
                return r as usize;
            }
        }
    }

    /// `randint(low, high)` (both ends included), as `randrange` computes it.
    pub(crate) fn randint(&mut self, low: usize, high: usize) -> usize {
        low + self.randbelow(high - low + 1)
    }

    /// The indexes `Random.sample(population, k)` picks from a population of
    /// `n` items, in order; `None` when `k > n` (Python's ValueError).
    pub(crate) fn sample_indexes(&mut self, n: usize, k: usize) -> Option<Vec<usize>> {
        if k > n {
            return None;
        }
        Some(if n <= sample_set_size(k) {
            self.sample_by_pool(n, k)
        } else {
            self.sample_by_set(n, k)
        })
    }

    /// Partial Fisher-Yates over a list of the indexes.
    fn sample_by_pool(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..n).collect();
        (0..k)
            .map(|i| {
                let j = self.randbelow(n - i);
                let picked = pool[j];
                pool[j] = pool[n - i - 1];
                picked
            })
            .collect()
    }

    /// Rejection of the indexes already picked.
    fn sample_by_set(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut selected = HashSet::with_capacity(k);
        (0..k)
            .map(|_| {
                loop {
                    let j = self.randbelow(n);
                    if selected.insert(j) {
                        break j;
                    }
                }
            })
            .collect()
    }
}

/// `sample`'s estimate of a `k`-item set's size in list slots, which picks
/// the pool algorithm when the population is no bigger.
fn sample_set_size(k: usize) -> usize {
    let mut size = 21usize;
    if k > 5 {
        // Python's `_ceil(_log(k * 3, 4))`: log(x) / log(4) in doubles.
        let exponent = ((k as f64 * 3.0).ln() / 4f64.ln()).ceil() as u32;
        size = size.saturating_add(4usize.saturating_pow(exponent));
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `random.Random(seed)` for an integer seed.
    fn from_int(seed: u128) -> PyRandom {
        PyRandom::from_big_endian(&seed.to_be_bytes())
    }

    fn sample(rng: &mut PyRandom, n: usize, k: usize) -> Vec<usize> {
        rng.sample_indexes(n, k).expect("k <= n")
    }

    #[test]
    fn sample_matches_cpython_pool_algorithm() {
        // python3.11 -c 'import random; print(random.Random(42).sample(range(10), 4))'
        assert_eq!(sample(&mut from_int(42), 10, 4), [1, 0, 4, 9]);
        assert_eq!(sample(&mut from_int(0), 5, 5), [3, 4, 0, 1, 2]);
        assert_eq!(sample(&mut from_int(7), 3, 2), [1, 0]);
        // k > 5: setsize 21 + 4**ceil(log4(180)) = 277 >= 200, the pool algorithm.
        assert_eq!(
            sample(&mut from_int(3), 200, 60)[..10],
            [60, 151, 139, 33, 94, 154, 121, 160, 148, 16]
        );
    }

    #[test]
    fn sample_matches_cpython_set_algorithm() {
        // n = 100 > setsize 21 for k = 3: the rejection algorithm.
        assert_eq!(sample(&mut from_int(42), 100, 3), [81, 14, 3]);
        assert_eq!(
            sample(&mut from_int(12345), 1000, 8),
            [426, 750, 10, 839, 845, 822, 305, 875]
        );
    }

    #[test]
    fn seeds_of_several_words() {
        // random.Random(1 << 40) and random.Random(-(1 << 40) - 5): abs() is used.
        assert_eq!(sample(&mut from_int(1 << 40), 10, 3), [1, 5, 9]);
        assert_eq!(sample(&mut from_int((1 << 40) + 5), 10, 3), [8, 9, 4]);
    }

    #[test]
    fn text_seeds_are_pythons_version_2_seeding() {
        // python3.11 -c 'import random; print(random.Random("abc").sample(range(10), 4))'
        assert_eq!(sample(&mut PyRandom::from_text("abc"), 10, 4), [8, 7, 5, 6]);
        assert_eq!(
            sample(&mut PyRandom::from_text("abc"), 1000, 5),
            [790, 571, 471, 726, 939]
        );
    }

    #[test]
    fn randint_covers_both_ends() {
        let mut rng = from_int(1);
        let draws: Vec<usize> = (0..200).map(|_| rng.randint(0, 2)).collect();
        assert!((0..=2).all(|n| draws.contains(&n)));
    }
}
