//! `adding`: the adding problem of Hochreiter & Schmidhuber (1997) for a vanilla RNN (64 tanh
//! units). Sequences of length T (default 50; `--length`) make gradients vanish or explode.

use super::{Problem, Source, Task, BATCH, VAL_SIZE};

/// The registry entry.
pub const PROBLEM: Problem = Problem {
    name: "adding",
    description: "the adding problem: a vanilla RNN (64 tanh units) sums the two marked values of a sequence",
    task: Task::Adding { length: 50 },
    data: Source::Adding,
    budget: 10,
    // Right means within 0.04 of the sum; always answering 1 is right about 8% of the time.
    target: 0.75,
    target_full_data: 0.75,
    metric: "0-1 error (|o − t| > 0.04)",
    batch: BATCH,
    val_size: VAL_SIZE,
};
