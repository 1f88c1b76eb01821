//! MNIST and Fashion-MNIST: the four standard IDX files from a folder, or the subset of either
//! bundled with descent (the first 10,000 training and 2,000 test images; see
//! `data/mnist-subset/README.md` and `data/fashion-mnist-subset/README.md`). Pixels are scaled to
//! [0, 1].

use std::path::{Path, PathBuf};

use super::idx;
use super::Dataset;
use crate::Error;

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The bundled MNIST subset, compiled in so that it is there on any machine.
const MNIST_BUNDLED: [(&str, &[u8]); 4] = [
    (TRAIN_IMAGES, include_bytes!("../../data/mnist-subset/train-images-idx3-ubyte.gz")),
    (TRAIN_LABELS, include_bytes!("../../data/mnist-subset/train-labels-idx1-ubyte.gz")),
    (TEST_IMAGES, include_bytes!("../../data/mnist-subset/t10k-images-idx3-ubyte.gz")),
    (TEST_LABELS, include_bytes!("../../data/mnist-subset/t10k-labels-idx1-ubyte.gz")),
];

/// The bundled Fashion-MNIST subset, likewise.
const FASHION_MNIST_BUNDLED: [(&str, &[u8]); 4] = [
    (TRAIN_IMAGES, include_bytes!("../../data/fashion-mnist-subset/train-images-idx3-ubyte.gz")),
    (TRAIN_LABELS, include_bytes!("../../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz")),
    (TEST_IMAGES, include_bytes!("../../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz")),
    (TEST_LABELS, include_bytes!("../../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz")),
];

/// Which of the two image sets in MNIST's format: 28×28 grayscale images in 10 classes, in the
/// same four IDX files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ImageSet {
    /// Handwritten digits (LeCun, Cortes & Burges), labels 0-9 the digits.
    Mnist,
    /// Zalando's article images (Xiao, Rasul & Vollgraf 2017), labels 0-9 the classes T-shirt/top,
    /// Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.
    FashionMnist,
}

impl ImageSet {
    /// The set's name as its authors write it: "MNIST" or "Fashion-MNIST".
    pub fn name(self) -> &'static str {
        match self {
            ImageSet::Mnist => "MNIST",
            ImageSet::FashionMnist => "Fashion-MNIST",
        }
    }

    /// The four gzipped files of the bundled subset.
    fn bundled(self) -> &'static [(&'static str, &'static [u8]); 4] {
        match self {
            ImageSet::Mnist => &MNIST_BUNDLED,
            ImageSet::FashionMnist => &FASHION_MNIST_BUNDLED,
        }
    }
}

/// The training and test sets of MNIST or Fashion-MNIST.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// The training set (60,000 images, or 10,000 in the bundled subset).
    pub train: Dataset,
    /// The test set (10,000 images, or 2,000).
    pub test: Dataset,
    /// The size of every image, (rows, columns): (28, 28) for both standard sets. Each row of
    /// features is one image, row-major.
    pub image_shape: (usize, usize),
}

/// Loads MNIST from `dir` (the four standard files, gzipped or not), or the bundled subset when
/// `dir` is `None`: [`load_set`] for [`ImageSet::Mnist`].
pub fn load(dir: Option<&Path>) -> Result<Mnist, Error> {
    load_set(ImageSet::Mnist, dir)
}

/// Loads `set` from `dir` (the four standard files, gzipped or not), or its bundled subset when
/// `dir` is `None`. The training and test images must have the same size.
pub fn load_set(set: ImageSet, dir: Option<&Path>) -> Result<Mnist, Error> {
    if let Some(dir) = dir {
        if !dir.is_dir() {
            let expected = format!("no such folder (expected the four {} IDX files in it)", set.name());
            return Err(Error::data(dir, expected));
        }
    }
    let read = |name: &str, dims: u8| match dir {
        None => read_bundled(set, name, dims),
        Some(dir) => {
            let path = find(dir, name)?;
            Ok(IdxFile { array: idx::read_u8(&path, dims)?, name: path.display().to_string() })
        }
    };
    let (train_images, train_labels) = (read(TRAIN_IMAGES, 3)?, read(TRAIN_LABELS, 1)?);
    let (test_images, test_labels) = (read(TEST_IMAGES, 3)?, read(TEST_LABELS, 1)?);
    let image_shape = train_images.image_shape();
    let test_shape = test_images.image_shape();
    if test_shape != image_shape {
        return Err(Error::data(
            &test_images.name,
            format!(
                "images are {}×{}, but the training images are {}×{}",
                test_shape.0, test_shape.1, image_shape.0, image_shape.1
            ),
        ));
    }
    Ok(Mnist { train: assemble(train_images, train_labels)?, test: assemble(test_images, test_labels)?, image_shape })
}

/// An IDX array and the name of the file it came from, for error messages.
struct IdxFile {
    array: idx::IdxBytes,
    name: String,
}

impl IdxFile {
    /// (rows, columns) of the images in a 3-dimensional array.
    fn image_shape(&self) -> (usize, usize) {
        (self.array.dims[1], self.array.dims[2])
    }
}

/// One file of the bundled subset of `set`, unzipped and parsed.
fn read_bundled(set: ImageSet, name: &str, dims: u8) -> Result<IdxFile, Error> {
    let bytes = set.bundled().iter().find(|(n, _)| *n == name).expect("bundled file").1;
    let name = format!("bundled {} {name}.gz", set.name());
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut raw)
        .map_err(|e| Error::data(&name, e.to_string()))?;
    let array = idx::parse_u8(&raw, dims).map_err(|m| Error::data(&name, m))?;
    Ok(IdxFile { array, name })
}

/// `dir/name.gz` or `dir/name`.
/// Checks that `dir` holds the four IDX files (gzipped or not) without reading them.
pub fn check_folder(dir: &Path) -> Result<(), Error> {
    if !dir.is_dir() {
        return Err(Error::data(dir, "no such folder (expected the four IDX files in it)"));
    }
    for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        find(dir, name)?;
    }
    Ok(())
}

fn find(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    [dir.join(format!("{name}.gz")), dir.join(name)].into_iter().find(|path| path.is_file()).ok_or_else(|| {
        Error::data(dir.join(format!("{name}.gz")), "missing (neither it nor the unzipped file is there)")
    })
}

/// Images and labels into a data set, checking that they belong together.
fn assemble(images: IdxFile, labels: IdxFile) -> Result<Dataset, Error> {
    let (count, dim) = (images.array.dims[0], images.array.dims[1] * images.array.dims[2]);
    let label_count = labels.array.dims[0];
    if label_count != count {
        return Err(Error::data(
            &labels.name,
            format!("has {label_count} labels but {} has {count} images", images.name),
        ));
    }
    if let Some(position) = labels.array.values.iter().position(|&l| l > 9) {
        return Err(Error::data(
            &labels.name,
            format!("label {} at position {position} is not a class 0-9", labels.array.values[position]),
        ));
    }
    let inputs = images.array.values.iter().map(|&p| p as f32 / 255.0).collect();
    Dataset::new(inputs, labels.array.values.iter().map(|&l| l as u32).collect(), dim, 10)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn label_counts(data: &Dataset) -> [usize; 10] {
        let mut counts = [0; 10];
        data.labels.iter().for_each(|&l| counts[l as usize] += 1);
        counts
    }

    #[test]
    fn bundled_subset_loads_with_its_known_shape() {
        let mnist = load(None).unwrap();
        assert_eq!((mnist.train.len(), mnist.train.dim, mnist.test.len()), (10_000, 784, 2_000));
        assert_eq!(mnist.image_shape, (28, 28));
        // Label counts of the first 10,000 training images (printed by
        // `python3 tools/make_mnist_subset.py`).
        assert_eq!(label_counts(&mnist.train), [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
        assert!(mnist.train.inputs.iter().all(|&x| (0.0..=1.0).contains(&x)));
    }

    #[test]
    fn bundled_fashion_subset_loads_with_its_known_shape_and_is_not_mnist() {
        let fashion = load_set(ImageSet::FashionMnist, None).unwrap();
        assert_eq!((fashion.train.len(), fashion.train.dim, fashion.test.len()), (10_000, 784, 2_000));
        assert_eq!((fashion.test.dim, fashion.image_shape), (784, (28, 28)));
        // Label counts of the first 10,000 training images (printed by
        // `python3 tools/make_mnist_subset.py fashion-mnist`, and counted again from Debian's
        // train-labels-idx1-ubyte.gz with `zcat | tail -c +9 | head -c 10000 | od -tu1 -w1 | sort | uniq -c`).
        assert_eq!(label_counts(&fashion.train), [942, 1027, 1016, 1019, 974, 989, 1021, 1022, 990, 1000]);
        assert!(fashion.train.inputs.iter().chain(&fashion.test.inputs).all(|&x| (0.0..=1.0).contains(&x)));
        let mnist = load(None).unwrap();
        assert_ne!(fashion.train.inputs, mnist.train.inputs);
        assert_ne!(fashion.test.inputs, mnist.test.inputs);
    }

    /// Writes `dir/name.gz`: an IDX file of u8 with dimensions `dims`, every value `value`.
    fn write_idx(dir: &Path, name: &str, dims: &[u32], value: u8) {
        let mut bytes = (0x0800 | dims.len() as u32).to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend(std::iter::repeat_n(value, dims.iter().product::<u32>() as usize));
        let file = std::fs::File::create(dir.join(format!("{name}.gz"))).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        gz.finish().unwrap();
    }

    /// A folder of the four files: 3 training images of `train_size`, 2 test images of `test_size`.
    fn folder(train_size: (u32, u32), test_size: (u32, u32)) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), TRAIN_IMAGES, &[3, train_size.0, train_size.1], 255);
        write_idx(dir.path(), TRAIN_LABELS, &[3], 4);
        write_idx(dir.path(), TEST_IMAGES, &[2, test_size.0, test_size.1], 255);
        write_idx(dir.path(), TEST_LABELS, &[2], 9);
        dir
    }

    #[test]
    fn a_folder_of_other_sized_images_loads_with_their_shape() {
        let dir = folder((32, 30), (32, 30));
        let set = load_set(ImageSet::FashionMnist, Some(dir.path())).unwrap();
        assert_eq!((set.image_shape, set.train.dim, set.train.len(), set.test.len()), ((32, 30), 960, 3, 2));
        assert!(set.train.inputs.iter().all(|&x| x == 1.0));
        assert_eq!(set.test.labels, [9, 9]);
    }

    #[test]
    fn test_images_of_another_size_than_the_training_images_are_refused() {
        let dir = folder((28, 28), (32, 32));
        let error = load_set(ImageSet::FashionMnist, Some(dir.path())).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}: images are 32×32, but the training images are 28×28",
                dir.path().join("t10k-images-idx3-ubyte.gz").display()
            )
        );
    }

    #[test]
    fn a_missing_folder_is_named_with_the_set_it_should_hold() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("fashion");
        let error = load_set(ImageSet::FashionMnist, Some(&missing)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{}: no such folder (expected the four Fashion-MNIST IDX files in it)", missing.display())
        );
    }

    #[test]
    fn the_sets_are_named_as_their_authors_write_them() {
        assert_eq!((ImageSet::Mnist.name(), ImageSet::FashionMnist.name()), ("MNIST", "Fashion-MNIST"));
    }
}
