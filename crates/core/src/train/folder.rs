//! The run folder: its files, the checkpoint written after every epoch, and resuming from it.

use std::path::{Path, PathBuf};

use super::{EpochMetrics, Splits, Trainer, METRICS_HEADER};
use crate::checkpoint::{Checkpoint, CHECKPOINT_FILE};
use crate::config::TrainConfig;
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
    pub fn resume(dir: &Path, epochs: Option<u32>) -> Result<Self, Error> {
        if !dir.is_dir() {
            return Err(Error::run(dir, "no such run folder"));
        }
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() || !dir.join(CHECKPOINT_FILE).is_file() {
            return Err(Error::run(dir, format!("not a descent run (it needs {CONFIG_FILE} and {CHECKPOINT_FILE})")));
        }
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| Error::run(&config_path, format!("cannot read: {e}")))?;
        let mut config: TrainConfig =
            toml::from_str(&text).map_err(|e| Error::run(&config_path, format!("damaged: {}", e.message())))?;
        if let Some(epochs) = epochs {
            config.epochs = epochs;
        }
        let splits = Splits::load(&config)?;
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

    pub(super) fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), String> {
        let params = checkpoint.tensor("params").ok_or("has no 'params' tensor")?;
        if params.len() != self.model.params().len() {
            return Err(format!(
                "holds {} parameters, the model of config.toml has {}",
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
        self.optimizer.load_state(params.len(), &buffers, &scalars).map_err(|e| e.to_string())?;
        self.best_params = checkpoint.tensor("best_params").map(<[f32]>::to_vec);
        self.progress = checkpoint.progress.clone();
        Ok(())
    }

    /// Writes metrics.csv and the checkpoint into `dir`.
    pub(super) fn save(&self, dir: &Path) -> Result<(), Error> {
        let csv = diagnostics::to_csv(METRICS_HEADER, self.progress.metrics.iter().map(EpochMetrics::csv_row));
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
        tensors.extend(
            self.optimizer.state_buffers().map(|(name, values)| (format!("optimizer.{name}"), values.to_vec())),
        );
        Checkpoint { tensors, progress: self.progress.clone() }.save(dir)
    }
}

/// True when `dir` already holds a run (so that a new run must not overwrite it).
pub fn holds_a_run(dir: &Path) -> bool {
    dir.join(CHECKPOINT_FILE).exists() || dir.join(CONFIG_FILE).exists()
}

/// The default run folder for a problem.
pub fn default_out(problem: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("train-{problem}"))
}
