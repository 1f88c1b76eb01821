//! A labelled data set held in memory: one row of features per example and a class label.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::Error;

/// What a batch of outputs is trained against.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, F> {
    /// Class labels.
    Classes(&'a [u32]),
    /// Real values, as many per example as the model has outputs.
    Values(&'a [F]),
}

/// Examples as rows of `dim` f32 features, with class labels in `0..classes`.
///
/// ```
/// use descent::data::Dataset;
/// let data = Dataset::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], vec![0, 1, 1], 2, 2)?;
/// assert_eq!((data.len(), data.row(2)), (3, &[4.0f32, 5.0][..]));
/// // A label outside the classes is refused, naming it.
/// assert!(Dataset::new(vec![0.0, 1.0], vec![2], 2, 2).is_err());
/// # Ok::<(), descent::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, row-major: example i is `inputs[i*dim .. (i+1)*dim]`.
    pub inputs: Vec<f32>,
    /// Class of each example.
    pub labels: Vec<u32>,
    /// Features per example.
    pub dim: usize,
    /// Number of classes (for a regression set, the values per example: the model's output width).
    pub classes: usize,
    /// Real-valued targets, `classes` per example, for a regression set (empty for classification).
    pub values: Vec<f32>,
    /// Whether each example's targets are its own features (an autoencoder's data).
    pub reconstruct: bool,
}

impl Dataset {
    /// A data set, checking that the shapes agree and every label is below `classes`.
    pub fn new(inputs: Vec<f32>, labels: Vec<u32>, dim: usize, classes: usize) -> Result<Self, Error> {
        if dim == 0 || inputs.len() != labels.len() * dim {
            return Err(Error::Invalid {
                field: "inputs",
                message: "must hold one row of features per label",
                value: format!("{} values for {} labels of {dim} features", inputs.len(), labels.len()),
            });
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::Invalid {
                field: "labels",
                message: "must be below the number of classes",
                value: bad.to_string(),
            });
        }
        Ok(Dataset { inputs, labels, dim, classes, values: Vec::new(), reconstruct: false })
    }

    /// A regression set: rows of `dim` features, `width` real targets each (the model's outputs).
    pub fn regression(inputs: Vec<f32>, values: Vec<f32>, dim: usize, width: usize) -> Result<Self, Error> {
        if width == 0 || !values.len().is_multiple_of(width) {
            return Err(Error::Invalid {
                field: "values",
                message: "must hold the same number of targets for every example",
                value: format!("{} values, {width} per example", values.len()),
            });
        }
        let mut data = Dataset::new(inputs, vec![0; values.len() / width], dim, width)?;
        data.values = values;
        Ok(data)
    }

    /// Whether the examples carry real values rather than classes.
    pub fn is_regression(&self) -> bool {
        !self.values.is_empty()
    }

    /// The targets of examples `range`.
    pub fn targets(&self, range: std::ops::Range<usize>) -> Targets<'_, f32> {
        if self.reconstruct {
            Targets::Values(&self.inputs[range.start * self.dim..range.end * self.dim])
        } else if self.is_regression() {
            Targets::Values(&self.values[range.start * self.classes..range.end * self.classes])
        } else {
            Targets::Classes(&self.labels[range])
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of example `index`.
    pub fn row(&self, index: usize) -> &[f32] {
        &self.inputs[index * self.dim..(index + 1) * self.dim]
    }

    /// The examples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut inputs = Vec::with_capacity(indices.len() * self.dim);
        indices.iter().for_each(|&i| inputs.extend_from_slice(self.row(i)));
        Dataset {
            inputs,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            dim: self.dim,
            classes: self.classes,
            values: if self.is_regression() {
                let width = self.classes;
                indices.iter().flat_map(|&i| self.values[i * width..(i + 1) * width].iter().copied()).collect()
            } else {
                Vec::new()
            },
            reconstruct: self.reconstruct,
        }
    }

    /// Splits off `validation` examples chosen at random (from `seed`); returns (train, validation).
    pub fn split(&self, validation: usize, seed: u64) -> Result<(Dataset, Dataset), Error> {
        if validation >= self.len() {
            return Err(Error::Invalid {
                field: "validation size",
                message: "must leave at least one training example",
                value: format!("{validation} of {}", self.len()),
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (val, train) = order.split_at(validation);
        let (mut train, mut val) = (train.to_vec(), val.to_vec());
        // Keep the original order inside each part: the split is a choice of examples, not a shuffle.
        train.sort_unstable();
        val.sort_unstable();
        Ok((self.subset(&train), self.subset(&val)))
    }

    /// Per-feature mean and standard deviation (std 1 where a feature is constant).
    pub fn feature_moments(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.len().max(1) as f64;
        let mut mean = vec![0.0f64; self.dim];
        let mut square = vec![0.0f64; self.dim];
        for row in self.inputs.chunks_exact(self.dim) {
            for ((m, s), &x) in mean.iter_mut().zip(square.iter_mut()).zip(row) {
                *m += x as f64;
                *s += (x as f64) * (x as f64);
            }
        }
        let std = mean.iter().zip(&square).map(|(m, s)| (s / n - (m / n).powi(2)).max(0.0).sqrt() as f32).map(|s| {
            if s > 1e-6 {
                s
            } else {
                1.0
            }
        });
        let std: Vec<f32> = std.collect();
        (mean.iter().map(|m| (m / n) as f32).collect(), std)
    }

    /// Subtracts `mean` and divides by `std`, feature by feature.
    pub fn standardize(&mut self, mean: &[f32], std: &[f32]) {
        for row in self.inputs.chunks_exact_mut(self.dim) {
            for ((x, m), s) in row.iter_mut().zip(mean).zip(std) {
                *x = (*x - m) / s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        Dataset::new((0..2 * n).map(|i| i as f32).collect(), (0..n as u32).map(|i| i % 3).collect(), 2, 3).unwrap()
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let data = toy(50);
        let (train, val) = data.split(10, 7).unwrap();
        assert_eq!((train.len(), val.len()), (40, 10));
        let mut firsts: Vec<f32> = train.inputs.iter().chain(&val.inputs).step_by(2).copied().collect();
        firsts.sort_by(f32::total_cmp);
        assert_eq!(firsts, (0..50).map(|i| (2 * i) as f32).collect::<Vec<_>>());
        assert_eq!(data.split(10, 7).unwrap(), (train, val.clone()));
        assert_ne!(data.split(10, 8).unwrap().1, val);
        assert!(data.split(50, 1).is_err());
    }

    #[test]
    fn standardized_features_have_zero_mean_unit_variance() {
        let mut data = toy(100);
        let (mean, std) = data.feature_moments();
        data.standardize(&mean, &std);
        let (mean, std) = data.feature_moments();
        assert!(mean.iter().all(|m| m.abs() < 1e-4) && std.iter().all(|s| (s - 1.0).abs() < 1e-4));
    }

    #[test]
    fn shapes_and_labels_are_checked() {
        assert!(Dataset::new(vec![0.0; 5], vec![0, 1], 2, 2).is_err());
        assert!(Dataset::new(vec![0.0; 4], vec![0, 2], 2, 2).is_err());
    }
}
