//! The adding problem of Hochreiter & Schmidhuber (1997): each example is T steps of two inputs,
//! a value drawn from U(0, 1) and a marker that is 1 at exactly two steps (one in each half of the
//! sequence) and 0 elsewhere; the target is the sum of the two marked values. Predicting the
//! mean, 1, gives a mean squared error of about 1/6 (½‖o − t‖² ≈ 0.083); doing better means
//! carrying information across up to T steps, which vanishing gradients make hard for long T.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Examples of the adding problem.
#[derive(Debug, Clone, PartialEq)]
pub struct AddingProblem {
    /// Inputs, examples × T × 2 (value, marker) per example.
    pub inputs: Vec<f32>,
    /// Targets, one per example.
    pub targets: Vec<f32>,
    /// Time steps T.
    pub steps: usize,
}

impl AddingProblem {
    /// `examples` sequences of length `steps` (at least 2) drawn from `seed`.
    pub fn generate(examples: usize, steps: usize, seed: u64) -> Self {
        let steps = steps.max(2);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut inputs = vec![0.0f32; examples * steps * 2];
        let mut targets = Vec::with_capacity(examples);
        for example in inputs.chunks_exact_mut(steps * 2) {
            for step in example.chunks_exact_mut(2) {
                step[0] = rng.gen::<f32>();
            }
            let half = steps / 2;
            let first = rng.gen_range(0..half);
            let second = rng.gen_range(half..steps);
            example[first * 2 + 1] = 1.0;
            example[second * 2 + 1] = 1.0;
            targets.push(example[first * 2] + example[second * 2]);
        }
        AddingProblem { inputs, targets, steps }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sequence_marks_two_steps_one_per_half_and_sums_them() {
        let data = AddingProblem::generate(200, 10, 3);
        assert_eq!(data.inputs.len(), 200 * 10 * 2);
        for (example, &target) in data.inputs.chunks_exact(20).zip(&data.targets) {
            let marked: Vec<usize> = (0..10).filter(|&t| example[t * 2 + 1] == 1.0).collect();
            assert_eq!(marked.len(), 2);
            assert!(marked[0] < 5 && marked[1] >= 5);
            assert_eq!(target, example[marked[0] * 2] + example[marked[1] * 2]);
        }
        assert_eq!(data, AddingProblem::generate(200, 10, 3), "the seed fixes the data");
    }
}
