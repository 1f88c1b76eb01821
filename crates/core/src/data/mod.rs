//! Data sets: readers for IDX (MNIST) and CSV files, the bundled MNIST subset, splitting,
//! scaling, and the sampler that draws a fresh random permutation each epoch.

pub mod adding;
pub mod csv;
pub mod dataset;
pub mod idx;
pub mod mnist;
pub mod sampler;

pub use dataset::{Dataset, Targets};
pub use sampler::EpochSampler;
