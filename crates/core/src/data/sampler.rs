//! Minibatches drawn randomly and independently: a fresh permutation of the training set each
//! epoch, cut into batches of m.
//!
//! The permutation of epoch e comes from its own ChaCha8 stream (seed, stream e), so a resumed run
//! draws exactly the batches it would have drawn, from the seed and the epoch number alone.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The order in which one epoch visits the examples.
#[derive(Debug, Clone)]
pub struct EpochSampler {
    order: Vec<u32>,
    batch: usize,
    drop_last: bool,
}

impl EpochSampler {
    /// A sampler over `len` examples in batches of `batch`; `drop_last` drops a final short batch.
    pub fn new(len: usize, batch: usize, drop_last: bool) -> Self {
        EpochSampler { order: (0..len as u32).collect(), batch: batch.max(1), drop_last }
    }

    /// Shuffles for `epoch` (a permutation that depends only on `seed` and `epoch`).
    pub fn shuffle(&mut self, seed: u64, epoch: u32) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch as u64 + 1);
        self.order.iter_mut().enumerate().for_each(|(i, slot)| *slot = i as u32);
        self.order.shuffle(&mut rng);
    }

    /// Number of batches per epoch.
    pub fn batches(&self) -> usize {
        if self.drop_last {
            self.order.len() / self.batch
        } else {
            self.order.len().div_ceil(self.batch)
        }
    }

    /// The example indices of batch `index`.
    pub fn batch(&self, index: usize) -> &[u32] {
        let start = index * self.batch;
        &self.order[start..(start + self.batch).min(self.order.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_is_a_permutation_and_epochs_differ() {
        let mut sampler = EpochSampler::new(103, 10, false);
        assert_eq!(sampler.batches(), 11);
        sampler.shuffle(1, 0);
        let first: Vec<u32> = (0..11).flat_map(|b| sampler.batch(b).to_vec()).collect();
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..103).collect::<Vec<_>>());
        assert_eq!(sampler.batch(10).len(), 3);
        sampler.shuffle(1, 1);
        let second: Vec<u32> = (0..11).flat_map(|b| sampler.batch(b).to_vec()).collect();
        assert_ne!(first, second);
        sampler.shuffle(1, 0);
        assert_eq!(first, (0..11).flat_map(|b| sampler.batch(b).to_vec()).collect::<Vec<_>>());
    }

    #[test]
    fn drop_last_drops_the_short_batch() {
        assert_eq!(EpochSampler::new(103, 10, true).batches(), 10);
    }
}
