//! Averages of the iterates (chapter 8.7.3, "Polyak averaging"): a second copy of the parameters
//! that follows the trajectory, to be evaluated and returned instead of the last iterate.
//!
//! With θ₁, θ₂, … the parameters after update 1, 2, …:
//! - **Polyak** (Polyak & Juditsky 1992): θ̄ₜ = (1/t)·Σᵢ≤ₜ θᵢ, kept as θ̄ₜ = θ̄ₜ₋₁ + (θₜ − θ̄ₜ₋₁)/t.
//!   The book's remark that on non-convex problems an average over the whole past includes points
//!   far back in the trajectory is why the exponential form is used there.
//! - **Exponential moving average** with decay d: θ̄₁ = θ₁, then θ̄ₜ = dθ̄ₜ₋₁ + (1 − d)θₜ, that is
//!   θ̄ₜ = d^(t−1)·θ₁ + (1 − d)·Σ₂≤ᵢ≤ₜ d^(t−i)·θᵢ.
//!
//! Both start from the first iterate, not from θ₀, as PyTorch's
//! `torch.optim.swa_utils.AveragedModel` does (its first `update_parameters` copies the model;
//! then `get_ema_multi_avg_fn(decay)` or the default running mean) and as Keras' `use_ema` does
//! (its momentum is 0 at the first step). Both are one fused multiply-add per parameter:
//! θ̄ ← θ̄ + w(θ − θ̄), with w = 1/t or 1 − d.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;
use crate::Float;

/// Which average of the iterates to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Averaging {
    /// The mean of every iterate so far (`polyak`).
    Polyak,
    /// An exponential moving average with this decay d, in [0, 1) (`ema:0.999`).
    Ema {
        /// d: the weight of the average so far at each update.
        decay: f64,
    },
}

impl Averaging {
    /// Checks the decay of an exponential average.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Averaging::Polyak => Ok(()),
            Averaging::Ema { decay } => crate::algorithms::check_unit_interval("decay", decay),
        }
    }

    /// The weight w of the new iterate at update `t` ≥ 2: θ̄ ← θ̄ + w(θ − θ̄) (the first copies).
    fn weight(&self, t: u64) -> f64 {
        match *self {
            Averaging::Polyak => 1.0 / t as f64,
            Averaging::Ema { decay } => 1.0 - decay,
        }
    }

    /// Folds the parameters after update `t` (1 for the first) into `average`: a copy at t = 1,
    /// else θ̄ ← θ̄ + w(θ − θ̄). Allocates nothing.
    pub fn update<F: Float>(&self, average: &mut [F], params: &[F], t: u64) {
        debug_assert_eq!(average.len(), params.len());
        if t <= 1 {
            average.copy_from_slice(params);
            return;
        }
        let weight = F::from_f64(self.weight(t));
        for (average, &param) in average.iter_mut().zip(params) {
            *average = weight.mul_add(param - *average, *average);
        }
    }
}

impl fmt::Display for Averaging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Averaging::Polyak => f.write_str("polyak"),
            Averaging::Ema { decay } => write!(f, "ema:{decay}"),
        }
    }
}

impl FromStr for Averaging {
    type Err = ConfigError;
    /// `polyak` or `ema:DECAY` (the decay in [0, 1), e.g. `ema:0.999`).
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let averaging = match text.split_once(':') {
            None if text == "polyak" => Averaging::Polyak,
            Some(("ema", decay)) => Averaging::Ema {
                decay: decay.trim().parse().map_err(|_| ConfigError::Syntax {
                    what: format!("average '{text}'"),
                    message: format!("'{decay}' is not a number (expected ema:DECAY, e.g. ema:0.999)"),
                })?,
            },
            _ => {
                return Err(ConfigError::Unknown {
                    kind: "average",
                    name: text.to_string(),
                    expected: "polyak, ema:DECAY".to_string(),
                })
            }
        };
        averaging.validate()?;
        Ok(averaging)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Iterates θ₁…θ₄ of two parameters, exact in binary.
    const ITERATES: [[f64; 2]; 4] = [[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0], [2.0, 2.0]];

    fn averaged(averaging: Averaging) -> Vec<[f64; 2]> {
        let mut average = [0.0; 2];
        ITERATES
            .iter()
            .enumerate()
            .map(|(index, iterate)| {
                averaging.update(&mut average, iterate, index as u64 + 1);
                average
            })
            .collect()
    }

    #[test]
    fn polyak_is_the_mean_of_the_iterates_so_far() {
        // By hand: (1, −2); ((1 + 3)/2, (−2 + 0.5)/2) = (2, −0.75); (3/3, 2.5/3) = (1, 5/6);
        // (5/4, 4.5/4) = (1.25, 1.125).
        let expected = [[1.0, -2.0], [2.0, -0.75], [1.0, 2.5 / 3.0], [1.25, 1.125]];
        for (got, want) in averaged(Averaging::Polyak).iter().zip(expected) {
            assert!((got[0] - want[0]).abs() < 1e-15 && (got[1] - want[1]).abs() < 1e-15, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn ema_follows_its_closed_form() {
        // θ̄ₜ = d^(t−1)θ₁ + (1 − d)Σ₂≤ᵢ≤ₜ d^(t−i)θᵢ, summed directly.
        let decay = 0.75;
        let got = averaged(Averaging::Ema { decay });
        for t in 1..=ITERATES.len() {
            for k in 0..2 {
                let mut want = decay.powi(t as i32 - 1) * ITERATES[0][k];
                for i in 2..=t {
                    want += (1.0 - decay) * decay.powi((t - i) as i32) * ITERATES[i - 1][k];
                }
                assert!((got[t - 1][k] - want).abs() < 1e-15, "t = {t}: {} vs {want}", got[t - 1][k]);
            }
        }
    }

    #[test]
    fn text_round_trips_and_bad_text_is_named() {
        for text in ["polyak", "ema:0.999", "ema:0"] {
            assert_eq!(text.parse::<Averaging>().unwrap().to_string(), text);
        }
        let error = |text: &str| text.parse::<Averaging>().unwrap_err().to_string();
        assert_eq!(error("ema:1"), "decay must be in [0, 1), got 1");
        assert_eq!(error("ema:x"), "average 'ema:x': 'x' is not a number (expected ema:DECAY, e.g. ema:0.999)");
        assert_eq!(error("swa"), "unknown average 'swa' (expected one of: polyak, ema:DECAY)");
        assert_eq!(error("polyak:3"), "unknown average 'polyak:3' (expected one of: polyak, ema:DECAY)");
    }
}
