//! The learning-rate range test (Smith, 2017, "Cyclical Learning Rates for Training Neural
//! Networks", §3.3; the form fastai and PyTorch Lightning ship).
//!
//! Train from the usual start while the rate grows exponentially, ε_k = ε_start·(ε_end/ε_start)^(k/(n−1))
//! for updates k = 0 … n − 1, and record each minibatch's training loss. The loss first barely
//! moves (the rate is too small), then falls, then climbs and diverges (the rate is too large).
//! The curve is smoothed by a bias-corrected exponential moving average (β = 0.98, as fastai),
//! and the test stops once the smoothed loss exceeds 4× its minimum (or the loss is not finite).
//!
//! **The suggestion:** the rate at the minimum of the smoothed loss, divided by 10 (fastai v1's
//! `lr_min / 10`): at the minimum the rate is already at the edge of instability, and the
//! smoothing lags the raw loss by about 1/(1 − β) = 50 updates' worth of growth, so a decade
//! below is where training is fast but stable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use descent_optim::Schedule;

use crate::config::TrainConfig;
use crate::train::{Event, Splits, Trainer};
use crate::Error;

/// The settings of one range test.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeTest {
    /// ε at the first update.
    pub start_lr: f64,
    /// ε the last update would reach.
    pub end_lr: f64,
    /// Updates n.
    pub steps: u64,
}

impl Default for RangeTest {
    /// 1e-7 to 10 over 100 updates (fastai's defaults).
    fn default() -> Self {
        RangeTest { start_lr: 1e-7, end_lr: 10.0, steps: 100 }
    }
}

/// One update of the test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangePoint {
    /// The update's number (0 first).
    pub step: u64,
    /// Its rate.
    pub lr: f64,
    /// The minibatch's mean training loss.
    pub loss: f64,
    /// The bias-corrected moving average of the loss up to here.
    pub smoothed: f64,
}

/// What a range test found.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeResult {
    /// Every update made.
    pub points: Vec<RangePoint>,
    /// The suggested rate (see the module docs), if the smoothed loss had a minimum.
    pub suggestion: Option<f64>,
    /// Why the test ended before its last update, if it did.
    pub stopped: Option<String>,
}

/// β of the moving average.
pub const SMOOTHING: f64 = 0.98;

/// The test stops once the smoothed loss exceeds this multiple of its minimum.
pub const DIVERGENCE: f64 = 4.0;

impl RangeTest {
    /// Checks the rates and the number of updates.
    pub fn validate(&self) -> Result<(), Error> {
        let valid = self.start_lr > 0.0 && self.end_lr > self.start_lr && self.end_lr.is_finite();
        if !valid {
            return Err(Error::Invalid {
                field: "lr range",
                message: "must satisfy 0 < start < end < ∞",
                value: format!("{}..{}", self.start_lr, self.end_lr),
            });
        }
        if self.steps < 2 {
            return Err(Error::Invalid {
                field: "steps",
                message: "must be at least 2",
                value: self.steps.to_string(),
            });
        }
        Ok(())
    }

    /// The exponential schedule of the test: ε_start·γ^k with γ = (ε_end/ε_start)^(1/(n − 1)).
    pub fn schedule(&self) -> Schedule {
        let gamma = (self.end_lr / self.start_lr).powf(1.0 / (self.steps - 1) as f64);
        Schedule { base_lr: self.start_lr, phases: vec![descent_optim::Decay::Exponential { gamma }] }
    }

    /// Runs the test on `config`'s problem and optimizer (its rate and schedule are replaced).
    pub fn run(&self, mut config: TrainConfig, splits: Splits) -> Result<RangeResult, Error> {
        self.validate()?;
        let schedule = self.schedule();
        config.lr = self.start_lr;
        config.schedule = schedule.to_string();
        config.steps = Some(self.steps);
        let batches = splits.train.len().div_ceil(config.batch) as u64;
        config.epochs = self.steps.div_ceil(batches.max(1)).max(1) as u32;
        config.early_stop = None;
        let stop = Arc::new(AtomicBool::new(false));
        let trainer = Trainer::new(config, splits)?.stop_when(Arc::clone(&stop));
        let mut trainer = trainer;
        let mut curve = Curve::default();
        let (mut previous_sum, mut previous_examples) = (0.0, 0usize);
        let outcome = trainer.run(None, &mut |event| match event {
            Event::EpochStart { .. } => (previous_sum, previous_examples) = (0.0, 0),
            Event::Batch { examples, running_loss, .. } => {
                // The epoch's running mean, turned back into this batch's mean.
                let sum = running_loss * examples as f64;
                let loss = (sum - previous_sum) / (examples - previous_examples) as f64;
                (previous_sum, previous_examples) = (sum, examples);
                let step = curve.points.len() as u64;
                if curve.push(step, schedule.lr(step), loss) {
                    stop.store(true, Ordering::SeqCst);
                }
            }
            _ => {}
        });
        let stopped = match outcome {
            Ok(_) => None,
            Err(Error::Interrupted { .. }) => Some(format!("the smoothed loss passed {DIVERGENCE}× its minimum")),
            Err(Error::NonFinite { .. }) => Some("the loss was not finite".to_string()),
            Err(other) => return Err(other),
        };
        let suggestion = suggest(&curve.points);
        Ok(RangeResult { points: curve.points, suggestion, stopped })
    }
}

/// The smoothed curve as it grows.
#[derive(Debug, Default)]
struct Curve {
    points: Vec<RangePoint>,
    average: f64,
    best: f64,
}

impl Curve {
    /// Adds an update; returns whether the test should stop (divergence or a non-finite loss).
    fn push(&mut self, step: u64, lr: f64, loss: f64) -> bool {
        self.average = SMOOTHING * self.average + (1.0 - SMOOTHING) * loss;
        let smoothed = self.average / (1.0 - SMOOTHING.powi(self.points.len() as i32 + 1));
        if self.points.is_empty() || smoothed < self.best {
            self.best = smoothed;
        }
        self.points.push(RangePoint { step, lr, loss, smoothed });
        !smoothed.is_finite() || smoothed > DIVERGENCE * self.best
    }
}

/// The rate at the smoothed loss's minimum, divided by 10; `None` without finite points.
pub fn suggest(points: &[RangePoint]) -> Option<f64> {
    points
        .iter()
        .filter(|point| point.smoothed.is_finite())
        .min_by(|a, b| a.smoothed.total_cmp(&b.smoothed))
        .map(|point| point.lr / 10.0)
}

/// The smoothed curve of a sequence of (rate, loss) pairs, stopping as the test does; for
/// callers that record losses themselves.
pub fn smooth(losses: &[(f64, f64)]) -> Vec<RangePoint> {
    let mut curve = Curve::default();
    for (step, &(lr, loss)) in losses.iter().enumerate() {
        if curve.push(step as u64, lr, loss) {
            break;
        }
    }
    curve.points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_the_bias_corrected_average() {
        // Losses 1, 2, 3 by hand: a₁ = 0.02, a₂ = 0.98·0.02 + 0.04 = 0.0596, a₃ = 0.98·0.0596 + 0.06;
        // corrected by 1 − 0.98^t.
        let points = smooth(&[(1e-3, 1.0), (2e-3, 2.0), (3e-3, 3.0)]);
        let a3 = 0.98 * 0.0596 + 0.06;
        let expected = [1.0, 0.0596 / (1.0 - 0.98f64.powi(2)), a3 / (1.0 - 0.98f64.powi(3))];
        for (point, want) in points.iter().zip(expected) {
            assert!((point.smoothed - want).abs() < 1e-14, "{} vs {want}", point.smoothed);
        }
    }

    #[test]
    fn suggests_a_decade_below_the_smoothed_minimum_and_stops_on_divergence() {
        // A synthetic test: loss(ε) = (log₁₀ ε + 2)² + 1 over ε = 10^-6 … 10^2, minimum at 1e-2;
        // past it the loss climbs until the smoothed curve is 4× its minimum.
        let n = 400;
        let losses: Vec<(f64, f64)> = (0..n)
            .map(|k| {
                let log_lr = -6.0 + 8.0 * k as f64 / (n - 1) as f64;
                (10f64.powf(log_lr), (log_lr + 2.0).powi(2) + 1.0)
            })
            .collect();
        let points = smooth(&losses);
        assert!(points.len() < n, "stopped early");
        let last = points.last().unwrap();
        let best = points.iter().map(|p| p.smoothed).fold(f64::INFINITY, f64::min);
        assert!(last.smoothed > DIVERGENCE * best);
        // The smoothing lags: its minimum comes after the raw minimum at 1e-2, within a decade.
        let suggestion = suggest(&points).unwrap();
        assert!(suggestion > 1e-3 && suggestion < 1e-2, "{suggestion}");
        assert_eq!(suggest(&[]), None);
    }

    #[test]
    fn schedule_spans_the_range() {
        let test = RangeTest { start_lr: 1e-6, end_lr: 1.0, steps: 7 };
        let schedule = test.schedule();
        for k in 0..7 {
            let want = 10f64.powi(k as i32 - 6);
            assert!((schedule.lr(k) - want).abs() < 1e-12 * want.max(1e-6), "{k}: {}", schedule.lr(k));
        }
        assert!(RangeTest { start_lr: 1.0, end_lr: 0.5, steps: 10 }.validate().is_err());
        assert!(RangeTest { steps: 1, ..RangeTest::default() }.validate().is_err());
    }
}
