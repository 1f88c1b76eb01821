//! What a run reports: a row of `metrics.csv` per epoch, events while it runs, and its summary.

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
}

/// The columns of `metrics.csv`, in order.
pub const METRICS_HEADER: &str = "epoch,step,lr,seconds,train_loss,train_error,val_loss,val_error,test_loss,test_error";

impl EpochMetrics {
    /// The row as CSV (numbers print as the shortest decimal that parses back exactly).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{:?},{:.3},{:?},{:?},{:?},{:?},{:?},{:?}",
            self.epoch,
            self.step,
            self.lr,
            self.seconds,
            self.train_loss,
            self.train_error,
            self.val_loss,
            self.val_error,
            self.test_loss,
            self.test_error
        )
    }
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
