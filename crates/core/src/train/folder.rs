//! The run folder: its files, the checkpoint written after every epoch, and resuming from it.

use std::path::{Path, PathBuf};

use super::{EpochMetrics, Splits, Trainer};
use crate::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use crate::config::{ModelRecord, TrainConfig};
use crate::diagnostics::{
    self, CurvatureRow, LayerRow, TimeRow, DIAGNOSTICS_HEADER, LAYER_STATS_HEADER, TIME_GRADS_HEADER,
};
use crate::Error;

/// File names inside a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Per-epoch metrics.
pub const METRICS_FILE: &str = "metrics.csv";
/// The run's summary.
pub const SUMMARY_FILE: &str = "summary.json";
/// Curvature rows of a diagnosed run.
pub const DIAGNOSTICS_FILE: &str = "diagnostics.csv";
/// Per-layer rows of a run with layer statistics.
pub const LAYER_STATS_FILE: &str = "layer_stats.csv";
/// Gradient norms across time of a diagnosed recurrent run.
pub const TIME_GRADS_FILE: &str = "time_grads.csv";

impl Trainer {
    /// The run saved in `dir`, ready to continue to `epochs` total epochs (its own total if `None`).
    /// A run that stopped before its first checkpoint starts again from the beginning.
    pub fn resume(dir: &Path, epochs: Option<u32>) -> Result<Self, Error> {
        if !dir.is_dir() {
            return Err(Error::run(dir, "no such run folder"));
        }
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(Error::run(dir, format!("not a descent run (it needs {CONFIG_FILE} and {CHECKPOINT_FILE})")));
        }
        let mut config = read_config(&config_path)?;
        if let Some(epochs) = epochs {
            config.epochs = epochs;
        }
        let splits = Splits::load(&config)?;
        if !dir.join(CHECKPOINT_FILE).is_file() {
            return Trainer::new(config, splits);
        }
        Self::resume_with(dir, config, splits)
    }

    /// The run saved in `dir` with `config` and `splits` given by the caller (the library form of
    /// [`resume`](Self::resume), for data that is not in a file).
    pub fn resume_with(dir: &Path, config: TrainConfig, splits: Splits) -> Result<Self, Error> {
        let checkpoint = Checkpoint::load(dir)?;
        let mut trainer = Trainer::new(config, splits)?;
        trainer.restore(&checkpoint).map_err(|message| Error::run(dir.join(CHECKPOINT_FILE), message))?;
        Ok(trainer)
    }

    /// The run saved in `dir` of a model of the caller's own ([`with_model`](Self::with_model)),
    /// built again by the caller as it was (its parameters are then replaced by the checkpoint's).
    pub fn resume_with_model(
        dir: &Path,
        config: TrainConfig,
        splits: Splits,
        model: impl super::Model + 'static,
    ) -> Result<Self, Error> {
        let checkpoint = Checkpoint::load(dir)?;
        let mut trainer = Trainer::with_model(config, splits, model)?;
        trainer.restore(&checkpoint).map_err(|message| Error::run(dir.join(CHECKPOINT_FILE), message))?;
        Ok(trainer)
    }

    pub(super) fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), String> {
        let params = checkpoint.tensor("params").ok_or("has no 'params' tensor")?;
        if params.len() != self.model.params().len() {
            return Err(format!(
                "holds {} parameters, the model to resume has {}",
                params.len(),
                self.model.params().len()
            ));
        }
        self.model.params_mut().copy_from_slice(params);
        let buffers: Vec<(&str, &[f32])> = checkpoint
            .tensors
            .iter()
            .filter_map(|(name, values)| name.strip_prefix("optimizer.").map(|n| (n, &values[..])))
            .collect();
        let scalars: Vec<(&str, f64)> =
            checkpoint.progress.optimizer_scalars.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        // A run stopped before its first update has no optimizer state yet: it starts fresh.
        if checkpoint.progress.step > 0 || !buffers.is_empty() {
            self.optimizer.load_state(params.len(), &buffers, &scalars).map_err(|e| e.to_string())?;
        }
        let best = checkpoint.tensor("best_params");
        if let Some(best) = best.filter(|best| best.len() != params.len()) {
            return Err(format!("holds {} best parameters for a model of {}", best.len(), params.len()));
        }
        let average = checkpoint.tensor("average");
        if let Some(average) = average.filter(|average| average.len() != params.len()) {
            return Err(format!("holds an average of {} parameters for a model of {}", average.len(), params.len()));
        }
        if average.is_none() && self.average.is_some() && checkpoint.progress.step > 0 {
            return Err("has no 'average' tensor, which a run that averages keeps".to_string());
        }
        let finite = params.iter().chain(best.unwrap_or_default()).chain(average.unwrap_or_default());
        if let Some(index) = finite.into_iter().position(|v| !v.is_finite()) {
            return Err(format!("holds a parameter that is not finite (value {index} of its tensors)"));
        }
        let progress = &checkpoint.progress;
        let partial = progress.partial.as_ref().map_or(0, |p| p.batches as u64);
        if partial > self.sampler.batches() as u64 {
            return Err(format!("has an interrupted epoch of {partial} updates, more than an epoch holds"));
        }
        let most_steps = progress.epoch as u64 * self.sampler.batches() as u64 + partial;
        if progress.step > most_steps || progress.metrics.len() != progress.epoch as usize {
            return Err(format!(
                "has inconsistent progress: step {} after {} epochs of {} updates, {} rows of metrics",
                progress.step,
                progress.epoch,
                self.sampler.batches(),
                progress.metrics.len()
            ));
        }
        self.best_params = best.map(<[f32]>::to_vec);
        if let (Some(kept), Some(values)) = (self.average.as_mut(), average) {
            kept.values.copy_from_slice(values);
        }
        self.progress = checkpoint.progress.clone();
        Ok(())
    }

    /// Writes metrics.csv and the checkpoint into `dir`.
    pub(super) fn save(&self, dir: &Path) -> Result<(), Error> {
        let header = super::metrics_header(self.average.is_some());
        let csv = diagnostics::to_csv(&header, self.progress.metrics.iter().map(EpochMetrics::csv_row));
        crate::checkpoint::write_atomically(&dir.join(METRICS_FILE), csv.as_bytes())?;
        if let Some(monitor) = &self.monitor {
            let rows = diagnostics::to_csv(DIAGNOSTICS_HEADER, monitor.curvature.iter().map(CurvatureRow::csv_row));
            crate::checkpoint::write_atomically(&dir.join(DIAGNOSTICS_FILE), rows.as_bytes())?;
            if monitor.config.layer_stats {
                let rows = diagnostics::to_csv(LAYER_STATS_HEADER, monitor.layers.iter().map(LayerRow::csv_row));
                crate::checkpoint::write_atomically(&dir.join(LAYER_STATS_FILE), rows.as_bytes())?;
            }
            if !monitor.time.is_empty() {
                let rows = diagnostics::to_csv(TIME_GRADS_HEADER, monitor.time.iter().map(TimeRow::csv_row));
                crate::checkpoint::write_atomically(&dir.join(TIME_GRADS_FILE), rows.as_bytes())?;
            }
        }
        let mut tensors = vec![("params".to_string(), self.model.params().to_vec())];
        if let Some(best) = &self.best_params {
            tensors.push(("best_params".to_string(), best.clone()));
        }
        if let Some(average) = &self.average {
            tensors.push(("average".to_string(), average.values.clone()));
        }
        tensors.extend(
            self.optimizer.state_buffers().map(|(name, values)| (format!("optimizer.{name}"), values.to_vec())),
        );
        Checkpoint { tensors, progress: self.progress.clone() }.save(dir)
    }
}

/// A run folder's `config.toml`, checked as a fresh configuration is (an edited file with an
/// unknown problem, optimizer or key is refused, naming the file).
fn read_config(path: &Path) -> Result<TrainConfig, Error> {
    let text = crate::files::read_text(path, crate::files::TEXT_LIMIT, false)?;
    let config: TrainConfig =
        toml::from_str(&text).map_err(|e| Error::run(path, format!("damaged: {}", e.message())))?;
    if config.model == ModelRecord::Problem {
        crate::problems::named(&config.problem).map_err(|e| Error::run(path, e.to_string()))?;
    }
    config.validate().map_err(|e| Error::run(path, e.to_string()))?;
    Ok(config)
}

/// True when `dir` holds a run with a checkpoint (so that a new run must not overwrite it).
pub fn holds_a_run(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).exists()
}

/// True when `dir` holds a run that stopped before its first checkpoint: a readable
/// `config.toml` of descent's, no checkpoint, and no file but the run folder's own. Such a folder
/// may be reused by a new run, or resumed (from the start).
pub fn holds_an_unstarted_run(dir: &Path) -> bool {
    const OWN: [&str; 8] = [
        CONFIG_FILE,
        METRICS_FILE,
        SUMMARY_FILE,
        DIAGNOSTICS_FILE,
        LAYER_STATS_FILE,
        TIME_GRADS_FILE,
        "curves.svg",
        crate::files::LOCK_FILE,
    ];
    let only_own = std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().all(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            OWN.contains(&name.as_ref()) && entry.file_type().is_ok_and(|t| t.is_file())
        })
    });
    only_own && !holds_a_run(dir) && read_config(&dir.join(CONFIG_FILE)).is_ok()
}

/// The default run folder for a problem.
pub fn default_out(problem: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("train-{problem}"))
}
