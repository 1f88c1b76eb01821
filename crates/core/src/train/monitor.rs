//! The diagnostics of a run: curvature rows, per-layer statistics and gradients across time,
//! measured on a fixed diagnostic batch.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{Trainer, DIAGNOSTICS_FILE, LAYER_STATS_FILE, TIME_GRADS_FILE};
use crate::curvature::{self, Scratch};
use crate::data::Dataset;
use crate::diagnostics::{self, CurvatureRow, DiagnosticsConfig, LayerRow, TimeRow};
use crate::Error;

/// The diagnostics of a run that asked for them: a fixed diagnostic batch, buffers sized once,
/// and the rows recorded so far.
pub(super) struct Monitor {
    pub(super) config: DiagnosticsConfig,
    pub(super) examples: Dataset,
    pub(super) buffers: [Vec<f32>; 2],
    pub(super) theta: Vec<f32>,
    pub(super) scratch: Scratch<f32>,
    pub(super) pending: Option<CurvatureRow>,
    pub(super) curvature: Vec<CurvatureRow>,
    pub(super) layers: Vec<LayerRow>,
    pub(super) time: Vec<TimeRow>,
}

impl Trainer {
    /// Turns on the monitors of [`diagnostics`]: before every `config.every`-th update, the
    /// curvature row (and per-layer statistics if asked), written to `diagnostics.csv` (and
    /// `layer_stats.csv`) in the run folder. The diagnostic batch is a seeded sample of the
    /// training part, the same at every diagnosed step. Equivalent to setting
    /// [`TrainConfig::diagnostics`](crate::config::TrainConfig::diagnostics) before [`new`](Self::new).
    pub fn with_diagnostics(mut self, config: DiagnosticsConfig) -> Result<Self, Error> {
        config.validate()?;
        self.refuse_in_a_job()?;
        let train = &self.splits.train;
        let examples = config.examples.min(train.len()).min(self.model.max_batch());
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.config.seed ^ 0xd1a6_0057);
        order.shuffle(&mut rng);
        order.truncate(examples);
        let chosen = train.subset(&order);
        let dim = self.model.params().len();
        // The settings travel in the config (and so in config.toml), so that a resumed run
        // keeps diagnosing.
        self.config.diagnostics = Some(config.clone());
        self.monitor = Some(Box::new(Monitor {
            config,
            examples: chosen,
            buffers: [vec![0.0; dim], vec![0.0; dim]],
            theta: vec![0.0; dim],
            scratch: Scratch::new(dim),
            pending: None,
            curvature: Vec::new(),
            layers: Vec::new(),
            time: Vec::new(),
        }));
        Ok(self)
    }

    /// Curvature rows recorded so far (empty without diagnostics).
    pub fn curvature_rows(&self) -> &[CurvatureRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.curvature)
    }

    /// Per-layer rows recorded so far (empty without `layer_stats`).
    pub fn layer_rows(&self) -> &[LayerRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.layers)
    }

    /// Gradient norms across time and ρ(W) recorded so far (recurrent models only).
    pub fn time_rows(&self) -> &[TimeRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.time)
    }

    /// The curvature part of a diagnostic row at the current θ (θ is left as it was).
    pub(super) fn measure_curvature(&mut self, lr: f64) {
        let Some(monitor) = self.monitor.as_mut() else { return };
        let Monitor { config, examples: data, buffers, theta, scratch, pending, .. } = &mut **monitor;
        let model = &mut self.model;
        theta.copy_from_slice(model.params());
        let examples = data.len() as f64;
        let mut gradient = |point: &[f32], out: &mut [f32]| {
            model.params_mut().copy_from_slice(point);
            let (loss, _) = model.gradients(&data.inputs, data.targets(0..data.len()), data.len());
            out.copy_from_slice(model.grads());
            loss / examples
        };
        let row = diagnostics::measure(
            &mut gradient,
            theta,
            lr,
            self.progress.step,
            config,
            self.config.seed,
            buffers,
            scratch,
        );
        model.params_mut().copy_from_slice(theta);
        *pending = Some(row);
    }

    /// After a diagnosed update: the loss change it made, and per-layer statistics (the
    /// minibatch gradient is still in `grads`, θ before the update in the monitor).
    pub(super) fn record_step(&mut self) {
        let Some(monitor) = self.monitor.as_mut() else { return };
        let examples = monitor.examples.len() as f64;
        if let Some(mut row) = monitor.pending.take() {
            let data = &monitor.examples;
            let (loss, _) = self.model.evaluate(&data.inputs, data.targets(0..data.len()), data.len());
            row.actual_change = loss / examples - row.loss;
            monitor.curvature.push(row);
        }
        if let Some((spectral_radius, norms)) = self.model.time_profile() {
            let step = self.progress.step;
            monitor.time.extend(norms.iter().enumerate().map(|(index, &hidden_grad_norm)| TimeRow {
                step,
                spectral_radius,
                t: index + 1,
                hidden_grad_norm,
            }));
        }
        if monitor.config.layer_stats {
            let model = &self.model;
            for (index, (_, range)) in model.layers().into_iter().enumerate() {
                let before = &monitor.theta[range.clone()];
                let param_norm = curvature::norm(before);
                let change: f64 = model.params()[range.clone()]
                    .iter()
                    .zip(before)
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                monitor.layers.push(LayerRow {
                    step: self.progress.step,
                    layer: index + 1,
                    grad_norm: curvature::norm(&model.grads()[range]),
                    param_norm,
                    update_ratio: if param_norm > 0.0 { change / param_norm } else { f64::NAN },
                });
            }
        }
    }
}

impl Monitor {
    /// On resume: the rows an earlier invocation wrote for steps before `step`.
    pub(super) fn load_earlier(&mut self, dir: &Path, step: u64) -> Result<(), Error> {
        if step == 0 || !self.curvature.is_empty() {
            return Ok(());
        }
        let read = |name: &str| -> Result<Vec<String>, Error> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(text.lines().skip(1).map(str::to_string).collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(Error::run(&path, format!("cannot read: {e}"))),
            }
        };
        for line in read(DIAGNOSTICS_FILE)? {
            let row =
                CurvatureRow::parse(&line).ok_or_else(|| Error::run(dir.join(DIAGNOSTICS_FILE), "damaged row"))?;
            if row.step < step {
                self.curvature.push(row);
            }
        }
        for line in read(TIME_GRADS_FILE)? {
            let row = TimeRow::parse(&line).ok_or_else(|| Error::run(dir.join(TIME_GRADS_FILE), "damaged row"))?;
            if row.step < step {
                self.time.push(row);
            }
        }
        for line in read(LAYER_STATS_FILE)? {
            let row = LayerRow::parse(&line).ok_or_else(|| Error::run(dir.join(LAYER_STATS_FILE), "damaged row"))?;
            if row.step < step {
                self.layers.push(row);
            }
        }
        Ok(())
    }
}
