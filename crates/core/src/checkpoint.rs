//! Checkpoints: parameters and optimizer state as safetensors, with the run's progress (step,
//! epoch, early-stopping state, metrics so far) as JSON in the file's metadata. One file, written to
//! a temporary name and renamed, so a crash never leaves a torn checkpoint.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::train::EpochMetrics;
use crate::Error;

/// File name of the checkpoint inside a run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const FORMAT: &str = "descent-checkpoint-1";

/// Where a run stands: after a completed epoch, or inside one when it was interrupted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: u32,
    /// Updates made.
    pub step: u64,
    /// Cumulative training seconds (evaluation excluded).
    pub seconds: f64,
    /// Best value so far of what early stopping watches (the validation error unless the config
    /// says otherwise; ∞ before any epoch).
    #[serde(with = "any_f64")]
    pub best_val_error: f64,
    /// Epoch of the best validation error (0 before any).
    pub best_epoch: u32,
    /// Epochs since the best.
    pub bad_epochs: u32,
    /// The optimizer's scalar state by name.
    pub optimizer_scalars: Vec<(String, f64)>,
    /// One row per completed epoch.
    pub metrics: Vec<EpochMetrics>,
    /// The epoch in progress when the run was interrupted (Ctrl-C) between two updates, so that
    /// it continues from there instead of from the epoch's start.
    #[serde(default)]
    pub partial: Option<PartialEpoch>,
    /// Reduce-on-plateau's state, if the run uses it: the rate's multiplier, the best validation
    /// loss and the epochs since it.
    #[serde(default)]
    pub plateau: Option<PlateauState>,
}

/// Where reduce-on-plateau stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The multiplier of the scheduled rate.
    pub scale: f64,
    /// The best validation loss so far (∞ before any).
    #[serde(with = "any_f64")]
    pub best: f64,
    /// Epochs since the best.
    pub bad_epochs: u32,
}

impl Progress {
    /// The progress of a run that has not started.
    pub fn start() -> Self {
        Progress {
            epoch: 0,
            step: 0,
            seconds: 0.0,
            best_val_error: f64::INFINITY,
            best_epoch: 0,
            bad_epochs: 0,
            optimizer_scalars: Vec::new(),
            metrics: Vec::new(),
            partial: None,
            plateau: None,
        }
    }
}

/// JSON has no ∞ or NaN: a finite number is written as a number, any other as the text `inf`,
/// `-inf` or `NaN`, and read back from either (and `null`, which older files hold, as ∞).
mod any_f64 {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.collect_str(value)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Text(String),
            Null(()),
        }
        match Written::deserialize(deserializer)? {
            Written::Number(value) => Ok(value),
            Written::Text(text) => text.parse().map_err(|_| de::Error::custom(format!("'{text}' is not a number"))),
            Written::Null(()) => Ok(f64::INFINITY),
        }
    }
}

/// How far an interrupted epoch got: its first `batches` minibatches are done, with these sums
/// for its running training loss and error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// Minibatches of the epoch already trained on.
    pub batches: usize,
    /// Σ loss over them.
    pub loss_sum: f64,
    /// Σ error over them.
    pub error_sum: f64,
    /// Examples in them.
    pub seen: usize,
    /// ‖g‖ before clipping at each of them, where the run clips by norm.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grad_norms: Vec<f64>,
}

/// A checkpoint in memory: named f32 tensors and the progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Tensors by name (`params`, `best_params`, `optimizer.<buffer>`).
    pub tensors: Vec<(String, Vec<f32>)>,
    /// Where the run stands.
    pub progress: Progress,
}

impl Checkpoint {
    /// Writes to `dir/checkpoint.safetensors` through a temporary file and a rename.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let path = dir.join(CHECKPOINT_FILE);
        let bytes: Vec<Vec<u8>> = self.tensors.iter().map(|(_, values)| little_endian(values)).collect();
        let views: Vec<(String, TensorView<'_>)> = self
            .tensors
            .iter()
            .zip(&bytes)
            .map(|((name, values), bytes)| {
                let view = TensorView::new(Dtype::F32, vec![values.len()], bytes)
                    .map_err(|e| Error::run(&path, e.to_string()))?;
                Ok((name.clone(), view))
            })
            .collect::<Result<_, Error>>()?;
        let progress = serde_json::to_string(&self.progress).map_err(|e| Error::run(&path, e.to_string()))?;
        let named: Vec<(&str, &[u8])> =
            self.tensors.iter().zip(&bytes).map(|((n, _), b)| (n.as_str(), &b[..])).collect();
        let mut metadata = HashMap::new();
        metadata.insert("format".to_string(), FORMAT.to_string());
        metadata.insert("checksum".to_string(), checksum(&named, &progress));
        metadata.insert("progress".to_string(), progress);
        let bytes = safetensors::serialize(views, &Some(metadata)).map_err(|e| Error::run(&path, e.to_string()))?;
        write_atomically(&path, &bytes)
    }

    /// Reads `dir/checkpoint.safetensors`, naming what is wrong with a missing, foreign or torn file.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::run(&path, format!("cannot read the checkpoint: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| Error::run(&path, format!("damaged or not a checkpoint: {e}")))?;
        let metadata = header.metadata().clone().unwrap_or_default();
        if metadata.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(Error::run(&path, format!("not a descent checkpoint (expected format {FORMAT})")));
        }
        let progress: Progress = serde_json::from_str(metadata.get("progress").map_or("", String::as_str))
            .map_err(|e| Error::run(&path, format!("damaged progress record: {e}")))?;
        let tensors = SafeTensors::deserialize(&bytes).map_err(|e| Error::run(&path, format!("damaged: {e}")))?;
        let mut named = Vec::new();
        let mut raw = Vec::new();
        for (name, view) in tensors.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(Error::run(&path, format!("tensor '{name}' is {:?}, expected F32", view.dtype())));
            }
            let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            raw.push((name.clone(), view.data()));
            named.push((name, values));
        }
        // Checkpoints written before checksums existed have none; every one written now does.
        if let Some(expected) = metadata.get("checksum") {
            let raw: Vec<(&str, &[u8])> = raw.iter().map(|(n, b)| (n.as_str(), *b)).collect();
            let progress = metadata.get("progress").map_or("", String::as_str);
            if checksum(&raw, progress) != *expected {
                return Err(Error::run(&path, "damaged: its checksum does not match its contents"));
            }
        }
        Ok(Checkpoint { tensors: named, progress })
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&[f32]> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, v)| &v[..])
    }
}

/// A 64-bit FNV-1a hash of every tensor (by name, in name order, its bytes) and the progress
/// record, in hex: a flipped bit anywhere in them is noticed on load.
fn checksum(tensors: &[(&str, &[u8])], progress: &str) -> String {
    let mut sorted: Vec<&(&str, &[u8])> = tensors.iter().collect();
    sorted.sort_by_key(|(name, _)| *name);
    let mut hash = Fnv1a::new();
    for (name, bytes) in sorted {
        hash.feed(name.as_bytes());
        hash.feed(&(bytes.len() as u64).to_le_bytes());
        hash.feed(bytes);
    }
    hash.feed(progress.as_bytes());
    format!("{:016x}", hash.finish())
}

/// FNV-1a, 64 bits: a fast checksum of bytes (not a defence against deliberate forgery), for
/// checkpoints and for the ranks of a job to compare what they hold.
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Feeds each value's little-endian bits.
    pub(crate) fn feed_f32s(&mut self, values: &[f32]) {
        values.iter().for_each(|v| self.feed(&v.to_bits().to_le_bytes()));
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}

/// The little-endian bytes of `values` (safetensors stores little-endian). A copy, made once an
/// epoch, so that no unsafe reinterpretation is needed outside `linalg`.
fn little_endian(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub use crate::files::write_atomically;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stopped_in_its_first_epoch_has_no_best_error_yet_and_reads_back() {
        // Before any epoch ends the best validation error is +∞, which JSON writes as null.
        let progress = Progress {
            epoch: 0,
            step: 3,
            seconds: 0.5,
            best_val_error: f64::INFINITY,
            best_epoch: 0,
            bad_epochs: 0,
            optimizer_scalars: Vec::new(),
            metrics: Vec::new(),
            partial: Some(PartialEpoch {
                batches: 3,
                loss_sum: 6.0,
                error_sum: 1.5,
                seen: 384,
                grad_norms: vec![2.5, 0.5, 1.0],
            }),
            plateau: None,
        };
        let json = serde_json::to_string(&progress).unwrap();
        assert!(json.contains("\"best_val_error\":\"inf\""), "{json}");
        assert_eq!(serde_json::from_str::<Progress>(&json).unwrap(), progress);
        // Checkpoints written before, which held null there, read back as +∞ too.
        let old = json.replace("\"inf\"", "null");
        assert_eq!(serde_json::from_str::<Progress>(&old).unwrap(), progress);
    }

    #[test]
    fn round_trip_keeps_every_bit() {
        let dir = std::env::temp_dir().join(format!("descent-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let checkpoint = Checkpoint {
            tensors: vec![
                ("params".into(), vec![1.5, -0.0, f32::MIN_POSITIVE, 3e38]),
                ("optimizer.exp_avg".into(), vec![0.25, -1e-30, 7.0]),
                ("optimizer.exp_avg_sq".into(), vec![f32::MAX, 0.0, 1e-45]),
                ("best_params".into(), vec![-2.5, 0.0, 1.0, -3e-38]),
            ],
            progress: Progress {
                epoch: 2,
                step: 40,
                seconds: 1.25,
                best_val_error: 0.1,
                best_epoch: 1,
                bad_epochs: 1,
                optimizer_scalars: vec![("step".into(), 40.0)],
                metrics: vec![],
                partial: Some(PartialEpoch {
                    batches: 3,
                    loss_sum: 2.5,
                    error_sum: 1.0,
                    seen: 96,
                    grad_norms: Vec::new(),
                }),
                plateau: Some(PlateauState { scale: 0.25, best: 0.5, bad_epochs: 1 }),
            },
        };
        checkpoint.save(&dir).unwrap();
        let loaded = Checkpoint::load(&dir).unwrap();
        assert_eq!(loaded.progress, checkpoint.progress);
        // Every tensor, by name, bit for bit (and no other).
        let bits = |c: &Checkpoint| {
            let mut all: Vec<(String, Vec<u32>)> =
                c.tensors.iter().map(|(n, v)| (n.clone(), v.iter().map(|x| x.to_bits()).collect())).collect();
            all.sort();
            all
        };
        assert_eq!(bits(&loaded), bits(&checkpoint));
        // One flipped bit in a tensor's data is noticed (the data lie at the end of the file).
        let mut bytes = std::fs::read(dir.join(CHECKPOINT_FILE)).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        std::fs::write(dir.join(CHECKPOINT_FILE), &bytes).unwrap();
        let message = Checkpoint::load(&dir).unwrap_err().to_string();
        assert!(message.contains("checksum does not match"), "{message}");
        checkpoint.save(&dir).unwrap();
        // A torn file is named as damaged, not a panic.
        let bytes = std::fs::read(dir.join(CHECKPOINT_FILE)).unwrap();
        std::fs::write(dir.join(CHECKPOINT_FILE), &bytes[..bytes.len() / 2]).unwrap();
        assert!(Checkpoint::load(&dir).unwrap_err().to_string().contains("damaged"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
