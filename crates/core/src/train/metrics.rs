//! What a run reports: a row of `metrics.csv` per epoch, events while it runs, and its summary.

use descent_optim::Clip;
use serde::{Deserialize, Serialize};

/// One row of `metrics.csv`: where the run stood after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1 for the first).
    pub epoch: u32,
    /// Updates made.
    pub step: u64,
    /// Learning rate of the epoch's last update.
    pub lr: f64,
    /// Cumulative training seconds, evaluation excluded.
    pub seconds: f64,
    /// Mean surrogate loss (NLL) over the epoch's minibatches, as they were trained on.
    pub train_loss: f64,
    /// 0-1 error over the epoch's minibatches.
    pub train_error: f64,
    /// Mean NLL on the validation set at the end of the epoch.
    pub val_loss: f64,
    /// 0-1 error on the validation set.
    pub val_error: f64,
    /// Mean NLL on the test set.
    pub test_loss: f64,
    /// 0-1 error on the test set.
    pub test_error: f64,
    /// Median over the epoch's updates of ‖g‖ before clipping, where the run clips by norm (the
    /// largest group's norm when clipping per group); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm_median: Option<f64>,
    /// Fraction of the epoch's updates whose gradient the clipping shrank, where the run clips
    /// by norm; `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipped_fraction: Option<f64>,
    /// The same figures for the average of the iterates, where the run keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub averaged: Option<AveragedMetrics>,
}

/// Validation and test figures of the average of the iterates, at the end of an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AveragedMetrics {
    /// Mean loss on the validation set.
    pub val_loss: f64,
    /// Error on the validation set.
    pub val_error: f64,
    /// Mean loss on the test set.
    pub test_loss: f64,
    /// Error on the test set.
    pub test_error: f64,
}

/// The columns of `metrics.csv`, in order (the last two empty where the run does not clip by norm).
pub const METRICS_HEADER: &str =
    "epoch,step,lr,seconds,train_loss,train_error,val_loss,val_error,test_loss,test_error,grad_norm_median,clipped_fraction";

/// The columns `metrics.csv` adds, after [`METRICS_HEADER`]'s, where the run keeps an average of
/// the iterates.
pub const AVERAGED_COLUMNS: &str = "avg_val_loss,avg_val_error,avg_test_loss,avg_test_error";

/// The header of `metrics.csv`: [`METRICS_HEADER`], then [`AVERAGED_COLUMNS`] for a run that
/// averages.
pub fn metrics_header(averaged: bool) -> String {
    if averaged {
        format!("{METRICS_HEADER},{AVERAGED_COLUMNS}")
    } else {
        METRICS_HEADER.to_string()
    }
}

impl EpochMetrics {
    /// The row as CSV (numbers print as the shortest decimal that parses back exactly), with the
    /// average's columns where it has them.
    pub fn csv_row(&self) -> String {
        let averaged = self.averaged.map_or(String::new(), |a| {
            format!(",{:?},{:?},{:?},{:?}", a.val_loss, a.val_error, a.test_loss, a.test_error)
        });
        format!("{}{averaged}", self.base_row())
    }

    /// The columns of [`METRICS_HEADER`].
    fn base_row(&self) -> String {
        format!(
            "{},{},{:?},{:.3},{:?},{:?},{:?},{:?},{:?},{:?},{},{}",
            self.epoch,
            self.step,
            self.lr,
            self.seconds,
            self.train_loss,
            self.train_error,
            self.val_loss,
            self.val_error,
            self.test_loss,
            self.test_error,
            self.grad_norm_median.map_or(String::new(), |v| format!("{v:?}")),
            self.clipped_fraction.map_or(String::new(), |v| format!("{v:?}"))
        )
    }
}

/// The clipping telemetry of an epoch from the norms ‖g‖ measured before clipping at each update
/// (the optimizer measures them where it clips by norm): their median, and the fraction of updates
/// the clipping shrank (those where max_norm/(‖g‖ + 10⁻⁶) < 1, the scale the update applies).
/// `(None, None)` where the run does not clip by norm or made no update.
pub fn clipping_telemetry(norms: &[f64], clip: Option<Clip>) -> (Option<f64>, Option<f64>) {
    let max_norm = match clip {
        Some(Clip::GlobalNorm(max_norm) | Clip::Norm(max_norm)) => max_norm,
        _ => return (None, None),
    };
    if norms.is_empty() {
        return (None, None);
    }
    let mut sorted = norms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 { sorted[middle] } else { 0.5 * (sorted[middle - 1] + sorted[middle]) };
    let clipped = norms.iter().filter(|&&norm| descent_optim::clip::scale_for_norm(norm, max_norm) < 1.0).count();
    (Some(median), Some(clipped as f64 / norms.len() as f64))
}

/// What the trainer reports while it runs.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An epoch begins.
    EpochStart {
        /// Its number (1-based).
        epoch: u32,
        /// Minibatches in it.
        batches: usize,
        /// Training examples in it.
        examples: usize,
    },
    /// A minibatch was trained on.
    Batch {
        /// Minibatches done in this epoch.
        done: usize,
        /// Examples done in this epoch.
        examples: usize,
        /// Mean training loss so far this epoch.
        running_loss: f64,
        /// The learning rate of the update just made.
        lr: f64,
        /// ‖g‖ before clipping where the update measured it (clipping by global norm); `None`
        /// otherwise, and then `grads` gives it at the cost of one pass.
        grad_norm: Option<f64>,
        /// The gradient of the update just made, laid out as the parameters.
        grads: &'a [f32],
    },
    /// An epoch ended and was evaluated (and checkpointed, if the run has a folder).
    EpochEnd(&'a EpochMetrics),
    /// Validation error has not improved for `patience` epochs: training stops and the parameters
    /// of `best_epoch` are restored.
    EarlyStop {
        /// The epoch whose parameters are kept.
        best_epoch: u32,
    },
}

/// What an observer of [`Trainer::run_with`](super::Trainer::run_with) tells the run after
/// each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Control {
    /// Go on.
    #[default]
    Continue,
    /// Stop after this update (or epoch): the run returns `Ok` with its summary, after writing a
    /// checkpoint from which [`resume`](super::Trainer::resume) continues exactly.
    Stop,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Epochs trained.
    pub epochs: u32,
    /// Updates made.
    pub steps: u64,
    /// Training seconds, evaluation excluded.
    pub seconds: f64,
    /// The epoch whose parameters the run ends with (the best one with early stopping).
    pub final_epoch: u32,
    /// Metrics of that epoch.
    pub final_metrics: Option<EpochMetrics>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Whether an observer stopped the run ([`Control::Stop`]) before its budget.
    #[serde(default)]
    pub stopped_by_observer: bool,
    /// Training examples per second.
    pub examples_per_second: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_telemetry_by_hand() {
        // Norms 3.0, 0.5, 1.5, 0.9 against max 1: sorted 0.5, 0.9, 1.5, 3.0, median (0.9 + 1.5)/2
        // = 1.2; clipped: 3.0 and 1.5 (0.9 + 1e-6 < 1), half of them.
        let norms = [3.0, 0.5, 1.5, 0.9];
        assert_eq!(clipping_telemetry(&norms, Some(Clip::GlobalNorm(1.0))), (Some(1.2), Some(0.5)));
        assert_eq!(clipping_telemetry(&norms[..3], Some(Clip::Norm(0.4))), (Some(1.5), Some(1.0)));
        // A norm equal to the bound is scaled by 1/(1 + 1e-6): clipped, as the update does.
        assert_eq!(clipping_telemetry(&[1.0], Some(Clip::GlobalNorm(1.0))).1, Some(1.0));
        assert_eq!(clipping_telemetry(&norms, Some(Clip::Value(1.0))), (None, None));
        assert_eq!(clipping_telemetry(&norms, None), (None, None));
        assert_eq!(clipping_telemetry(&[], Some(Clip::GlobalNorm(1.0))), (None, None));
        let row = EpochMetrics {
            epoch: 1,
            step: 4,
            lr: 0.1,
            seconds: 1.0,
            train_loss: 1.0,
            train_error: 0.5,
            val_loss: 1.0,
            val_error: 0.5,
            test_loss: 1.0,
            test_error: 0.5,
            grad_norm_median: Some(1.2),
            clipped_fraction: Some(0.5),
            averaged: None,
        };
        assert!(row.csv_row().ends_with(",1.2,0.5"), "{}", row.csv_row());
        assert!(EpochMetrics { grad_norm_median: None, clipped_fraction: None, ..row.clone() }
            .csv_row()
            .ends_with("0.5,,"));
        // A run that averages has four more columns, in the order of the header's.
        let averaged = AveragedMetrics { val_loss: 0.25, val_error: 0.125, test_loss: 2.0, test_error: 0.75 };
        let row = EpochMetrics { averaged: Some(averaged), ..row };
        assert!(row.csv_row().ends_with(",1.2,0.5,0.25,0.125,2.0,0.75"), "{}", row.csv_row());
        let columns = metrics_header(true).split(',').count();
        assert_eq!((row.csv_row().split(',').count(), columns), (16, 16));
        assert!(
            metrics_header(true).ends_with(",clipped_fraction,avg_val_loss,avg_val_error,avg_test_loss,avg_test_error")
        );
    }
}
