//! The data a run trains and evaluates on: the problem's sets, a seeded validation split, scaling.

use crate::config::TrainConfig;
use crate::data::adding::AddingProblem;
use crate::data::{mnist, Dataset};
use crate::problems::{Problem, Source, Task};
use crate::Error;

/// Training and test sequences of the adding problem, and the seed they are drawn from.
const ADDING_TRAIN: usize = 10_000;
const ADDING_TEST: usize = 2_000;
const ADDING_SEED: u64 = 0xadd;

/// The data a run trains and evaluates on.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training part.
    pub train: Dataset,
    /// Validation part (held out of training, used for early stopping and tuning).
    pub val: Dataset,
    /// Test set (never used for any choice).
    pub test: Dataset,
}

impl Splits {
    /// The data of `config`: MNIST (bundled, or the folder `config.data`), or a CSV file
    /// (`config.data` ending in `.csv`, of which a seeded 20% becomes the test set); split and scaled.
    pub fn load(config: &TrainConfig) -> Result<Self, Error> {
        let (train, test) = Self::sources(config)?;
        Self::from_sets(config, train, test)
    }

    /// The training and test sets of `config` before the validation split: MNIST, a CSV file,
    /// or for the adding problem sequences generated from a fixed seed (the same for every run,
    /// so that runs differ only in what their own seed draws).
    pub fn sources(config: &TrainConfig) -> Result<(Dataset, Dataset), Error> {
        let problem = crate::problems::named(&config.problem).ok();
        let csv = config.data.as_deref().filter(|path| path.extension().is_some_and(|e| e == "csv"));
        if problem.is_none() && csv.is_none() {
            return Err(Error::Invalid {
                field: "problem",
                message: "is not in the registry and has no CSV file: pass its data yourself (Trainer::resume_with)",
                value: config.problem.clone(),
            });
        }
        let (mut train, mut test) = match (problem.map(|p| (p.data, p.task)), csv) {
            (Some((Source::Adding, Task::Adding { length })), _) => {
                let length = config.length.unwrap_or(length);
                let values = (length as u64).checked_mul(2 * (ADDING_TRAIN + ADDING_TEST) as u64);
                crate::files::check_memory(
                    values.and_then(|v| v.checked_mul(3 * 4)),
                    "length",
                    &format!("{} sequences of length {length}", ADDING_TRAIN + ADDING_TEST),
                )?;
                let set = |examples, seed| {
                    let data = AddingProblem::generate(examples, length, seed);
                    Dataset::regression(data.inputs, data.targets, 2 * length, 1)
                };
                (set(ADDING_TRAIN, ADDING_SEED)?, set(ADDING_TEST, ADDING_SEED + 1)?)
            }
            (Some((Source::Quadratic, _)), _) => crate::problems::quadratic_deep::data()?,
            (_, Some(path)) => {
                let all = crate::data::csv::read(path)?;
                let test_size = (all.len() / 5).max(1);
                all.split(test_size, config.seed ^ 0x7e57)
                    .map_err(|_| Error::data(path, "too few rows to split off a test set"))?
            }
            (source, None) => {
                let set = match source {
                    Some((Source::FashionMnist, _)) => mnist::ImageSet::FashionMnist,
                    _ => mnist::ImageSet::Mnist,
                };
                let data = mnist::load_set(set, config.data.as_deref())?;
                (data.train, data.test)
            }
        };
        if problem.is_some_and(Problem::is_autoencoder) {
            train.reconstruct = true;
            test.reconstruct = true;
        }
        Ok((train, test))
    }

    /// Splits `train` into train and validation as `config` says, and standardizes if asked.
    pub fn from_sets(config: &TrainConfig, train: Dataset, test: Dataset) -> Result<Self, Error> {
        let (mut train, mut val) = train.split(config.val_size, config.seed).map_err(|_| Error::Invalid {
            field: "val-size",
            message: "must leave at least one training example",
            value: format!("{} of {}", config.val_size, train.len()),
        })?;
        let mut test = test;
        if config.batch > train.len() {
            return Err(Error::Invalid {
                field: "batch",
                message: "must not exceed the training examples",
                value: format!("{} > {}", config.batch, train.len()),
            });
        }
        if config.standardize {
            let (mean, std) = train.feature_moments();
            for set in [&mut train, &mut val, &mut test] {
                set.standardize(&mean, &std);
            }
        }
        Ok(Splits { train, val, test })
    }
}
