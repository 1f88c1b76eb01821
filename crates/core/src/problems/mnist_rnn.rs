//! `mnist-rnn`: sequential MNIST, a vanilla RNN (128 tanh units) reading each image one row of 28
//! pixels per time step, 28 steps, classifying from its last state.

use super::{Problem, Source, Task, BATCH, VAL_SIZE};

/// The registry entry.
pub const PROBLEM: Problem = Problem {
    name: "mnist-rnn",
    description: "vanilla RNN (128 tanh units) reading MNIST one 28-pixel row per step, 28 steps",
    task: Task::Sequence { steps: 28 },
    data: Source::Mnist,
    budget: 5,
    target: 0.15,
    target_full_data: 0.05,
    metric: "0-1 error",
    batch: BATCH,
    val_size: VAL_SIZE,
};
