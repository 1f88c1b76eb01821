//! MNIST: the four standard IDX files from a folder, or the subset bundled with descent (the first
//! 10,000 training and 2,000 test images; see `data/mnist-subset/README.md`). Pixels are scaled
//! to [0, 1].

use std::path::{Path, PathBuf};

use super::idx;
use super::Dataset;
use crate::Error;

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The bundled subset, compiled in so that it is there on any machine.
const BUNDLED: [(&str, &[u8]); 4] = [
    (TRAIN_IMAGES, include_bytes!("../../../../data/mnist-subset/train-images-idx3-ubyte.gz")),
    (TRAIN_LABELS, include_bytes!("../../../../data/mnist-subset/train-labels-idx1-ubyte.gz")),
    (TEST_IMAGES, include_bytes!("../../../../data/mnist-subset/t10k-images-idx3-ubyte.gz")),
    (TEST_LABELS, include_bytes!("../../../../data/mnist-subset/t10k-labels-idx1-ubyte.gz")),
];

/// MNIST's training and test sets.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// The training set (60,000 images, or 10,000 in the bundled subset).
    pub train: Dataset,
    /// The test set (10,000 images, or 2,000).
    pub test: Dataset,
}

/// Loads MNIST from `dir` (the four standard files, gzipped or not), or the bundled subset when
/// `dir` is `None`.
pub fn load(dir: Option<&Path>) -> Result<Mnist, Error> {
    match dir {
        None => {
            let read = |name: &str, dims| {
                let bytes = BUNDLED.iter().find(|(n, _)| *n == name).expect("bundled file").1;
                let mut raw = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut raw)
                    .map_err(|e| Error::data(format!("bundled {name}"), e.to_string()))?;
                idx::parse_u8(&raw, dims).map_err(|m| Error::data(format!("bundled {name}"), m))
            };
            Ok(Mnist {
                train: assemble(
                    (read(TRAIN_IMAGES, 3)?, "bundled images"),
                    (read(TRAIN_LABELS, 1)?, "bundled labels"),
                )?,
                test: assemble((read(TEST_IMAGES, 3)?, "bundled images"), (read(TEST_LABELS, 1)?, "bundled labels"))?,
            })
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::data(dir, "no such folder (expected the four MNIST IDX files in it)"));
            }
            let read = |name: &str, dims| -> Result<(idx::IdxBytes, String), Error> {
                let path = find(dir, name)?;
                Ok((idx::read_u8(&path, dims)?, path.display().to_string()))
            };
            let (train_images, train_labels) = (read(TRAIN_IMAGES, 3)?, read(TRAIN_LABELS, 1)?);
            let (test_images, test_labels) = (read(TEST_IMAGES, 3)?, read(TEST_LABELS, 1)?);
            Ok(Mnist {
                train: assemble((train_images.0, &train_images.1), (train_labels.0, &train_labels.1))?,
                test: assemble((test_images.0, &test_images.1), (test_labels.0, &test_labels.1))?,
            })
        }
    }
}

/// `dir/name.gz` or `dir/name`.
fn find(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    [dir.join(format!("{name}.gz")), dir.join(name)].into_iter().find(|path| path.is_file()).ok_or_else(|| {
        Error::data(dir.join(format!("{name}.gz")), "missing (neither it nor the unzipped file is there)")
    })
}

/// Images and labels into a data set, checking that they belong together.
fn assemble(
    (images, images_name): (idx::IdxBytes, &str),
    (labels, labels_name): (idx::IdxBytes, &str),
) -> Result<Dataset, Error> {
    let (count, dim) = (images.dims[0], images.dims[1] * images.dims[2]);
    if labels.dims[0] != count {
        return Err(Error::data(
            labels_name,
            format!("has {} labels but {images_name} has {count} images", labels.dims[0]),
        ));
    }
    if let Some(position) = labels.values.iter().position(|&l| l > 9) {
        return Err(Error::data(
            labels_name,
            format!("label {} at position {position} is not a digit 0-9", labels.values[position]),
        ));
    }
    let inputs = images.values.iter().map(|&p| p as f32 / 255.0).collect();
    Dataset::new(inputs, labels.values.iter().map(|&l| l as u32).collect(), dim, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_subset_loads_with_its_known_shape() {
        let mnist = load(None).unwrap();
        assert_eq!((mnist.train.len(), mnist.train.dim, mnist.test.len()), (10_000, 784, 2_000));
        // Label counts of the first 10,000 training images (counted by tools/make_mnist_subset.py's output).
        let mut counts = [0; 10];
        mnist.train.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
        assert!(mnist.train.inputs.iter().all(|&x| (0.0..=1.0).contains(&x)));
    }
}
