//! The diagnostics of a run: curvature rows, per-layer statistics and gradients across time,
//! measured on a fixed diagnostic batch.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{Trainer, DIAGNOSTICS_FILE, LAYER_STATS_FILE, TIME_GRADS_FILE};
use crate::curvature;
use crate::data::Dataset;
use crate::diagnostics::{self, noise, Buffers, CurvatureRow, DiagnosticsConfig, LayerRow, Setting, TimeRow};
use crate::model::Model;
use crate::Error;

/// The diagnostics of a run that asked for them: a fixed diagnostic batch, buffers sized once,
/// and the rows recorded so far.
pub(super) struct Monitor {
    pub(super) config: DiagnosticsConfig,
    pub(super) examples: Dataset,
    pub(super) buffers: Buffers<f32>,
    /// θ before the diagnosed update.
    pub(super) theta: Vec<f32>,
    /// θ after it.
    pub(super) after: Vec<f32>,
    /// θ₀: the parameters when the monitor was attached (at a fresh start, the initialization;
    /// on resume, the same seeded initialization, before the checkpoint is loaded).
    pub(super) initial: Vec<f32>,
    /// The optimizer, for its stability limit.
    pub(super) optimizer: descent_optim::OptimizerConfig,
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
        let optimizer = self.config.optimizer_config()?;
        self.monitor = Some(Box::new(Monitor {
            config,
            examples: chosen,
            buffers: Buffers::new(dim),
            theta: vec![0.0; dim],
            after: vec![0.0; dim],
            initial: self.model.params().to_vec(),
            optimizer,
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

    /// Examples in the diagnostic batch (0 without diagnostics): the asked number, or fewer where
    /// the training part or the model's largest batch holds fewer.
    pub fn diagnostic_examples(&self) -> usize {
        self.monitor.as_ref().map_or(0, |m| m.examples.len())
    }

    /// Gradient norms across time and ρ(W) recorded so far (recurrent models only).
    pub fn time_rows(&self) -> &[TimeRow] {
        self.monitor.as_ref().map_or(&[], |m| &m.time)
    }

    /// The part of a diagnostic row measured at the current θ, before the update (θ is left as
    /// it was): curvature, λ_max, tr(H), the distance from θ₀ and the gradient's
    /// signal-to-noise ratio from one gradient per example of the diagnostic batch.
    pub(super) fn measure_curvature(&mut self, lr: f64) {
        let Some(monitor) = self.monitor.as_mut() else { return };
        let Monitor { config, examples: data, buffers, theta, initial, optimizer, pending, .. } = &mut **monitor;
        let model = &mut self.model;
        theta.copy_from_slice(model.params());
        let setting = Setting { config, optimizer, seed: self.config.seed, initial };
        let mut row = diagnostics::measure(
            &mut batch_gradient(model.as_mut(), data),
            theta,
            lr,
            self.progress.step,
            &setting,
            buffers,
        );
        model.params_mut().copy_from_slice(theta);
        let Buffers { gradient: mean, other, .. } = buffers;
        let mut per_example = |index: usize, out: &mut [f32]| {
            model.gradients(data.row(index), data.targets(index..index + 1), 1);
            out.copy_from_slice(model.grads());
        };
        row.grad_snr = noise::gradient_snr(mean, data.len(), &mut per_example, other);
        *pending = Some(row);
    }

    /// After a diagnosed update of `batch` examples: per-layer statistics and gradients across
    /// time (from the minibatch gradient still in `grads`, θ before the update in the monitor),
    /// then the update's own terms on the diagnostic batch. θ is left after the update.
    pub(super) fn record_step(&mut self, batch: usize) {
        let Some(monitor) = self.monitor.as_mut() else { return };
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
        let Monitor { examples: data, buffers, theta, after, pending, curvature, .. } = &mut **monitor;
        if let Some(mut row) = pending.take() {
            let model = &mut self.model;
            after.copy_from_slice(model.params());
            diagnostics::measure_update(&mut batch_gradient(model.as_mut(), data), theta, after, &mut row, buffers);
            model.params_mut().copy_from_slice(after);
            row.batch = batch;
            curvature.push(row);
        }
    }
}

/// ∇L and L of the diagnostic batch `data` at a point: the point is written into the model's
/// parameters (the caller restores them).
fn batch_gradient<'a>(model: &'a mut dyn Model, data: &'a Dataset) -> impl FnMut(&[f32], &mut [f32]) -> f64 + 'a {
    let examples = data.len() as f64;
    move |point: &[f32], out: &mut [f32]| {
        model.params_mut().copy_from_slice(point);
        let (loss, _) = model.gradients(&data.inputs, data.targets(0..data.len()), data.len());
        out.copy_from_slice(model.grads());
        loss / examples
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use crate::problems::quadratic_deep::{hessian, DIM};
    use crate::train::Splits;

    /// The noisy quadratic, where everything is known in closed form: example x has loss
    /// ½(θ − x)ᵀH(θ − x) and gradient H(θ − x), so the Hessian is H at every θ.
    #[test]
    fn on_the_noisy_quadratic_the_trace_snr_and_alpha_match_their_closed_forms() {
        let mut config = TrainConfig::for_problem("quadratic-deep").unwrap();
        config.optimizer = "sgd".into();
        config.lr = 0.01;
        // One full-batch update: the minibatch is the diagnostic batch, so Δθ = −εg exactly.
        config.batch = 1000;
        config.epochs = 1;
        config.threads = 1;
        config.diagnostics = Some(DiagnosticsConfig {
            every: 1,
            examples: 1000,
            trace_probes: 200,
            power_iterations: 0,
            ..DiagnosticsConfig::default()
        });
        let splits = Splits::load(&config).unwrap();
        assert_eq!(splits.train.len(), 1000);
        let mut trainer = Trainer::new(config, splits).unwrap();
        let theta: Vec<f64> = trainer.model.params().iter().map(|&v| v as f64).collect();
        trainer.run(None, &mut |_| {}).unwrap();
        let row = trainer.curvature_rows()[0].clone();
        let data = &trainer.monitor.as_ref().unwrap().examples;
        let n = data.len();
        assert_eq!((n, row.batch), (1000, 1000));

        // In f64 from H and the batch's points: ḡ = H(θ − x̄), g_i − ḡ = −H(x_i − x̄).
        let (h, _) = hessian();
        let times_h =
            |v: &[f64]| -> Vec<f64> { (0..DIM).map(|i| (0..DIM).map(|j| h[i * DIM + j] * v[j]).sum()).collect() };
        let point = |i: usize| -> Vec<f64> { data.row(i).iter().map(|&v| v as f64).collect() };
        let mean: Vec<f64> = (0..DIM).map(|j| (0..n).map(|i| point(i)[j]).sum::<f64>() / n as f64).collect();
        let g = times_h(&theta.iter().zip(&mean).map(|(t, m)| t - m).collect::<Vec<_>>());
        let spread: f64 = (0..n)
            .map(|i| times_h(&point(i).iter().zip(&mean).map(|(x, m)| x - m).collect::<Vec<_>>()))
            .map(|d| d.iter().map(|v| v * v).sum::<f64>())
            .sum();
        let g_g: f64 = g.iter().map(|v| v * v).sum();
        let snr = g_g / (spread / (n - 1) as f64);
        assert!((row.grad_snr / snr - 1.0).abs() < 1e-3, "SNR {} against {snr}", row.grad_snr);

        // tr H is the sum of its diagonal; Hutchinson's error per probe has variance
        // 2 Σ_{i≠j} H_ij², so 200 probes are within 4 standard errors of it.
        let trace: f64 = (0..DIM).map(|i| h[i * DIM + i]).sum();
        let off_diagonal: f64 = (0..DIM * DIM).filter(|ij| ij / DIM != ij % DIM).map(|ij| h[ij] * h[ij]).sum();
        let standard_error = (2.0 * off_diagonal / 200.0).sqrt();
        assert!(
            (row.hessian_trace - trace).abs() < 4.0 * standard_error,
            "{} against {trace} ± {standard_error}",
            row.hessian_trace
        );
        assert!((row.trace_error / standard_error - 1.0).abs() < 0.25, "{} against {standard_error}", row.trace_error);

        // Δθ = −εg on an exact quadratic: f(t) = L − tεgᵀg + ½t²ε²gᵀHg, so α = εgᵀHg/gᵀg − 1, and
        // the second-order model of the update is the change itself.
        let g_hg: f64 = g.iter().zip(times_h(&g)).map(|(a, b)| a * b).sum();
        let alpha = 0.01 * g_hg / g_g - 1.0;
        assert!((row.alpha - alpha).abs() < 1e-3 * (1.0 + alpha.abs()), "α {} against {alpha}", row.alpha);
        assert!((row.update_slope + 0.01 * g_g).abs() < 1e-3 * 0.01 * g_g, "{row:?}");
        assert!((row.actual_change - row.predicted_change()).abs() < 1e-3 * row.actual_change.abs(), "{row:?}");
        assert_eq!(row.distance, 0.0);
    }
}
