//! Learning-rate schedules: pure functions of the step count k (0 for the first update), so that a
//! resumed run continues exactly and nothing but k needs saving.
//!
//! | schedule | ε_k |
//! |---|---|
//! | `constant` | ε₀ |
//! | `linear` (Algorithm 8.1) | (1 − α)ε₀ + αε_τ, then ε_τ; ε_τ = ε₀/100 by default. Book convention: α = (k + 1)/τ, the note's count of updates from 1, so update τ uses ε_τ. Torch convention (`LinearLR`): α = k/τ, the first update uses ε₀ |
//! | `step` | ε₀·γ^⌊k/s⌋ |
//! | `exponential` | ε₀·γ^k |
//! | `inverse-time` | ε₀/(1 + γk): Σε = ∞ and Σε² < ∞, the conditions for SGD to converge |
//! | `cosine` | ε_min + (ε₀ − ε_min)(1 + cos(πk/T))/2 for k ≤ T, then ε_min: it holds the floor (Optax's `cosine_decay_schedule`) |
//! | `cosine-annealing` | ε_min + (ε₀ − ε_min)(1 + cos(πk/T))/2 for every k: past T it rises again, back to ε₀ at 2T (PyTorch's `CosineAnnealingLR`, whose rate is periodic in k) |
//! | `warmup` | linear from ε₀/w to ε₀ over the first w steps, then the next schedule from its own k = 0 |
//! | `multi-step` | ε₀·γ^(number of milestones ≤ k) (PyTorch's `MultiStepLR`) |
//! | `polynomial` | ε₀(1 − min(k, T)/T)^p (PyTorch's `PolynomialLR`) |
//! | `one-cycle` | from ε₀/d up to ε₀ over the first ⌈pT⌉ steps, then down to ε₀/(d·d_f) at step T − 1, both halves of a cosine (PyTorch's `OneCycleLR` without its momentum cycling; Smith & Topin 2019) |
//! | `cosine-restarts` | the cosine from ε₀ to ε_min over T₀ steps, restarted at ε₀, each period m times the last (PyTorch's `CosineAnnealingWarmRestarts`; Loshchilov & Hutter 2017) |
//! | `constant-factor` | ε₀·f for k < n, then ε₀ (PyTorch's `ConstantLR`) |
//!
//! `cosine-annealing` and each of the last five are checked against the rates PyTorch's scheduler gives step by step
//! (`tools/torch_schedules.py`, `tests/torch_schedules.rs`).
//!
//! Schedules compose: `warmup:100+cosine:period=1000` warms up for 100 steps then decays. Written
//! as text (`--schedule`), a schedule is `NAME[:KEY=VALUE,...]` and parts are joined with `+`.
//! Reduce-on-plateau depends on validation results, not on k alone, so it is a separate stateful
//! controller, [`ReduceOnPlateau`].

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// One piece of a schedule: a multiplier of ε₀ as a function of the step.
#[derive(Debug, Clone, PartialEq)]
pub enum Decay {
    /// ε₀.
    Constant,
    /// The chapter's linear decay to `end_factor`·ε₀ at step `tau` (Algorithm 8.1).
    Linear {
        /// τ: the update at which the rate reaches its final value.
        tau: u64,
        /// ε_τ/ε₀ (0.01 by default, as the chapter suggests).
        end_factor: f64,
        /// Whether updates count from 1, as the note's Algorithm 8.1 counts them (α = k/τ for
        /// update k = 1, 2, …), rather than from 0, as PyTorch's `LinearLR` does.
        from_one: bool,
    },
    /// Multiply by `gamma` every `every` steps.
    Step {
        /// Steps between reductions.
        every: u64,
        /// Factor applied at each reduction.
        gamma: f64,
    },
    /// Multiply by `gamma` every step.
    Exponential {
        /// Factor per step.
        gamma: f64,
    },
    /// ε₀/(1 + γk).
    InverseTime {
        /// γ: how fast the rate falls.
        gamma: f64,
    },
    /// Half a cosine from ε₀ down to `min_factor`·ε₀ over `period` steps.
    Cosine {
        /// T: steps from the top to the bottom.
        period: u64,
        /// ε_min/ε₀.
        min_factor: f64,
    },
    /// The cosine of [`Decay::Cosine`] continued past `period`: up again to ε₀ at 2·`period`,
    /// and so on (PyTorch's `CosineAnnealingLR`).
    CosineAnnealing {
        /// T: steps from the top to the bottom (PyTorch's `T_max`).
        period: u64,
        /// ε_min/ε₀.
        min_factor: f64,
    },
    /// Linear warmup over `steps` steps from ε₀/`steps` to ε₀.
    Warmup {
        /// Number of warmup steps.
        steps: u64,
    },
    /// Multiply by `gamma` at each milestone.
    MultiStep {
        /// The steps at which the rate drops, ascending.
        milestones: Vec<u64>,
        /// Factor applied at each milestone.
        gamma: f64,
    },
    /// (1 − min(k, T)/T)^power: to 0 at step T.
    Polynomial {
        /// T: the step at which the rate reaches 0.
        steps: u64,
        /// The power p (1 for a straight line).
        power: f64,
    },
    /// Smith's one cycle: up from ε₀/`div` to ε₀, then down to ε₀/(`div`·`final_div`).
    OneCycle {
        /// T: the cycle's length in steps.
        steps: u64,
        /// The share of T spent rising (PyTorch's `pct_start`, 0.3).
        pct_start: f64,
        /// ε₀ over the starting rate (25).
        div: f64,
        /// The starting rate over the final one (10⁴).
        final_div: f64,
    },
    /// Cosine annealing restarted every period, each period `mult` times longer.
    CosineRestarts {
        /// T₀: the first period.
        period: u64,
        /// m: each period's length over the last's (a whole number ≥ 1).
        mult: u64,
        /// ε_min/ε₀.
        min_factor: f64,
    },
    /// ε₀·`factor` for the first `steps` steps, then ε₀.
    ConstantFactor {
        /// The factor f.
        factor: f64,
        /// n: how many steps it lasts.
        steps: u64,
    },
}

/// A learning-rate schedule: ε₀ and a sequence of phases (warmups followed by one decay).
///
/// ```
/// use descent_optim::Schedule;
/// // 1,000 updates: 100 of warmup to ε₀ = 0.1, then a cosine over the other 900.
/// let schedule = Schedule::parse("warmup:100+cosine", 0.1, 1000)?;
/// assert!((schedule.lr(0) - 0.001).abs() < 1e-15);
/// assert!((schedule.lr(99) - 0.1).abs() < 1e-15);
/// assert!((schedule.lr(550) - 0.05).abs() < 1e-15);
/// assert_eq!(schedule.lr(1000), 0.0);
/// # Ok::<(), descent_optim::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// ε₀, the base rate.
    pub base_lr: f64,
    /// The phases, applied in order; a warmup hands over to the next phase when it ends.
    pub phases: Vec<Decay>,
}

impl Schedule {
    /// A constant rate ε₀.
    pub fn constant(base_lr: f64) -> Self {
        Schedule { base_lr, phases: vec![Decay::Constant] }
    }

    /// The chapter's linear decay from ε₀ to ε₀/100 at update τ, counting updates from 1 as
    /// Algorithm 8.1 does.
    pub fn linear(base_lr: f64, tau: u64) -> Self {
        Schedule { base_lr, phases: vec![Decay::Linear { tau, end_factor: 0.01, from_one: true }] }
    }

    /// The schedule as `convention` indexes it: the book counts updates from 1 (Algorithm 8.1),
    /// PyTorch's schedulers from 0. Only the linear decay differs.
    pub fn with_convention(mut self, convention: crate::Convention) -> Self {
        for phase in &mut self.phases {
            if let Decay::Linear { from_one, .. } = phase {
                *from_one = convention == crate::Convention::Book;
            }
        }
        self
    }

    /// ε_k for update number k (k = 0 for the first update).
    pub fn lr(&self, step: u64) -> f64 {
        let mut k = step;
        for phase in &self.phases {
            match *phase {
                Decay::Warmup { steps } if k < steps => return self.base_lr * (k + 1) as f64 / steps as f64,
                Decay::Warmup { steps } => k -= steps,
                ref decay => return self.base_lr * decay.factor(k),
            }
        }
        self.base_lr
    }

    /// Parses `NAME[:KEY=VALUE,...][+...]`; a decay's τ or T, when not given, is the rest of a
    /// run of `total_steps` updates after its warmups (PyTorch users of `SequentialLR` set
    /// `T_max = total − warmup` for the same).
    pub fn parse(text: &str, base_lr: f64, total_steps: u64) -> Result<Self, ConfigError> {
        let mut phases = Vec::new();
        let mut warmup = 0u64;
        for part in text.split('+') {
            let phase = Decay::parse(part.trim(), total_steps.saturating_sub(warmup))?;
            if let Decay::Warmup { steps } = phase {
                warmup = warmup.saturating_add(steps);
            }
            phases.push(phase);
        }
        let schedule = Schedule { base_lr, phases };
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks ε₀ and every phase.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::algorithms::check_non_negative("lr", self.base_lr)?;
        let is_warmup = |phase: &Decay| matches!(phase, Decay::Warmup { .. });
        let decays = self.phases.iter().filter(|phase| !is_warmup(phase)).count();
        let decay_is_last = self.phases.last().is_some_and(|phase| !is_warmup(phase));
        if self.phases.is_empty() || decays > 1 || (decays == 1 && !decay_is_last) {
            return Err(ConfigError::Syntax {
                what: format!("schedule '{self}'"),
                message: "expected warmups followed by at most one decay".to_string(),
            });
        }
        self.phases.iter().try_for_each(Decay::validate)
    }
}

impl Decay {
    /// ε_k/ε₀ for this decay.
    pub fn factor(&self, k: u64) -> f64 {
        match *self {
            Decay::Constant | Decay::Warmup { .. } => 1.0,
            Decay::Linear { tau, end_factor, from_one } => {
                let k = if from_one { k + 1 } else { k };
                if k >= tau {
                    end_factor
                } else {
                    let alpha = k as f64 / tau as f64;
                    (1.0 - alpha) + alpha * end_factor
                }
            }
            Decay::Step { every, gamma } => gamma.powf((k / every) as f64),
            Decay::Exponential { gamma } => gamma.powf(k as f64),
            Decay::InverseTime { gamma } => 1.0 / (1.0 + gamma * k as f64),
            Decay::Cosine { period, min_factor } => half_cosine(1.0, min_factor, k.min(period) as f64 / period as f64),
            Decay::CosineAnnealing { period, min_factor } => {
                // cos(πk/T) has period 2T in k: reduce k first, so that the angle stays small.
                half_cosine(1.0, min_factor, (k % (2 * period)) as f64 / period as f64)
            }
            Decay::MultiStep { ref milestones, gamma } => {
                gamma.powf(milestones.iter().filter(|&&milestone| milestone <= k).count() as f64)
            }
            Decay::Polynomial { steps, power } => (1.0 - k.min(steps) as f64 / steps as f64).powf(power),
            Decay::OneCycle { steps, pct_start, div, final_div } => {
                // PyTorch's phases end at steps (float) pct·T − 1 and T − 1; past the end the
                // rate stays at its floor (PyTorch raises there).
                let (start, peak) = (1.0 / div, 1.0);
                let end = start / final_div;
                let rise_end = pct_start * steps as f64 - 1.0;
                let k = k.min(steps - 1) as f64;
                if k <= rise_end {
                    half_cosine(start, peak, k / rise_end)
                } else {
                    half_cosine(peak, end, (k - rise_end) / ((steps - 1) as f64 - rise_end))
                }
            }
            Decay::CosineRestarts { period, mult, min_factor } => {
                let (mut k, mut period) = (k, period);
                if mult == 1 {
                    k %= period;
                } else {
                    while k >= period {
                        k -= period;
                        period *= mult;
                    }
                }
                half_cosine(1.0, min_factor, k as f64 / period as f64)
            }
            Decay::ConstantFactor { factor, steps } => {
                if k < steps {
                    factor
                } else {
                    1.0
                }
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use crate::algorithms::{check_non_negative, check_positive};
        let positive_steps = |field, value: u64| {
            if value == 0 {
                Err(ConfigError::OutOfRange { field, expected: ">= 1", value: 0.0 })
            } else {
                Ok(())
            }
        };
        match *self {
            Decay::Constant => Ok(()),
            Decay::Linear { tau, end_factor, .. } => {
                positive_steps("tau", tau)?;
                check_non_negative("end", end_factor)
            }
            Decay::Step { every, gamma } => {
                positive_steps("every", every)?;
                check_positive("gamma", gamma)
            }
            Decay::Exponential { gamma } => check_positive("gamma", gamma),
            Decay::InverseTime { gamma } => check_non_negative("gamma", gamma),
            Decay::Cosine { period, min_factor } | Decay::CosineAnnealing { period, min_factor } => {
                positive_steps("period", period)?;
                check_non_negative("min", min_factor)
            }
            Decay::Warmup { steps } => positive_steps("warmup steps", steps),
            Decay::MultiStep { ref milestones, gamma } => {
                if milestones.is_empty() || milestones.windows(2).any(|pair| pair[0] >= pair[1]) {
                    return Err(ConfigError::OutOfRange {
                        field: "milestones",
                        expected: "one or more steps, increasing (e.g. at=100/300)",
                        value: milestones.first().map_or(0.0, |&m| m as f64),
                    });
                }
                check_positive("gamma", gamma)
            }
            Decay::Polynomial { steps, power } => {
                positive_steps("steps", steps)?;
                check_non_negative("power", power)
            }
            Decay::OneCycle { steps, pct_start, div, final_div } => {
                if steps < 2 {
                    return Err(ConfigError::OutOfRange { field: "steps", expected: ">= 2", value: steps as f64 });
                }
                // Both phases must be at least one step long for the interpolation to exist.
                let rise_end = pct_start * steps as f64 - 1.0;
                if !(rise_end > 0.0 && rise_end < (steps - 1) as f64) {
                    return Err(ConfigError::OutOfRange {
                        field: "pct",
                        expected: "such that both phases last at least a step (pct·steps in (1, steps))",
                        value: pct_start,
                    });
                }
                check_positive("div", div)?;
                check_positive("final-div", final_div)
            }
            Decay::CosineRestarts { period, mult, min_factor } => {
                positive_steps("period", period)?;
                positive_steps("mult", mult)?;
                check_non_negative("min", min_factor)
            }
            Decay::ConstantFactor { factor, steps } => {
                positive_steps("steps", steps)?;
                check_non_negative("factor", factor)
            }
        }
    }

    fn parse(text: &str, total_steps: u64) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax { what: format!("schedule '{text}'"), message };
        let (name, arguments) = text.split_once(':').unwrap_or((text, ""));
        let mut values: Vec<(&str, f64)> = Vec::new();
        let mut milestones: Option<Vec<u64>> = None;
        for (position, argument) in arguments.split(',').filter(|a| !a.trim().is_empty()).enumerate() {
            let (key, value) = match argument.split_once('=') {
                Some((key, value)) => (key.trim(), value.trim()),
                None if position == 0 => ("", argument.trim()),
                None => return Err(syntax(format!("expected KEY=VALUE, found '{argument}'"))),
            };
            if name == "multi-step" && (key == "at" || key.is_empty()) {
                let parsed = value.split('/').map(|step| step.trim().parse::<u64>()).collect::<Result<Vec<_>, _>>();
                milestones =
                    Some(parsed.map_err(|_| syntax(format!("'{value}' is not a list of steps like 100/300")))?);
                continue;
            }
            let number: f64 = value.parse().map_err(|_| syntax(format!("'{value}' is not a number")))?;
            values.push((key, number));
        }
        let mut take = |keys: &[&str]| -> Option<f64> {
            let index = values.iter().position(|(key, _)| keys.contains(key))?;
            Some(values.remove(index).1)
        };
        let steps = |value: f64, field: &'static str| -> Result<u64, ConfigError> {
            if value >= 1.0 && value.fract() == 0.0 {
                Ok(value as u64)
            } else {
                Err(ConfigError::OutOfRange { field, expected: "a whole number >= 1", value })
            }
        };
        let total = total_steps.max(1) as f64;
        let decay = match name {
            "constant" => Decay::Constant,
            "linear" => Decay::Linear {
                tau: steps(take(&["tau", ""]).unwrap_or(total), "tau")?,
                end_factor: take(&["end"]).unwrap_or(0.01),
                from_one: false,
            },
            "step" => Decay::Step {
                every: steps(take(&["every", ""]).ok_or_else(|| syntax("step needs every=N".into()))?, "every")?,
                gamma: take(&["gamma"]).unwrap_or(0.1),
            },
            "exponential" => Decay::Exponential {
                gamma: take(&["gamma", ""]).ok_or_else(|| syntax("exponential needs gamma=G".into()))?,
            },
            "inverse-time" => Decay::InverseTime {
                gamma: take(&["gamma", ""]).ok_or_else(|| syntax("inverse-time needs gamma=G".into()))?,
            },
            "cosine" => Decay::Cosine {
                period: steps(take(&["period", ""]).unwrap_or(total), "period")?,
                min_factor: take(&["min"]).unwrap_or(0.0),
            },
            "cosine-annealing" => Decay::CosineAnnealing {
                period: steps(take(&["period", ""]).unwrap_or(total), "period")?,
                min_factor: take(&["min"]).unwrap_or(0.0),
            },
            "warmup" => Decay::Warmup {
                steps: steps(take(&["steps", ""]).ok_or_else(|| syntax("warmup needs steps=N".into()))?, "steps")?,
            },
            "multi-step" => Decay::MultiStep {
                milestones: milestones.take().ok_or_else(|| syntax("multi-step needs at=N/M/…".into()))?,
                gamma: take(&["gamma"]).unwrap_or(0.1),
            },
            "polynomial" => Decay::Polynomial {
                steps: steps(take(&["steps", ""]).unwrap_or(total), "steps")?,
                power: take(&["power"]).unwrap_or(1.0),
            },
            "one-cycle" => Decay::OneCycle {
                steps: steps(take(&["steps", ""]).unwrap_or(total), "steps")?,
                pct_start: take(&["pct"]).unwrap_or(0.3),
                div: take(&["div"]).unwrap_or(25.0),
                final_div: take(&["final-div"]).unwrap_or(1e4),
            },
            "cosine-restarts" => Decay::CosineRestarts {
                period: steps(
                    take(&["period", ""]).ok_or_else(|| syntax("cosine-restarts needs period=N".into()))?,
                    "period",
                )?,
                mult: steps(take(&["mult"]).unwrap_or(1.0), "mult")?,
                min_factor: take(&["min"]).unwrap_or(0.0),
            },
            "constant-factor" => Decay::ConstantFactor {
                factor: take(&["factor", ""]).unwrap_or(1.0 / 3.0),
                steps: steps(take(&["steps"]).unwrap_or(5.0), "steps")?,
            },
            _ => {
                return Err(ConfigError::Unknown {
                    kind: "schedule",
                    name: name.to_string(),
                    expected: SCHEDULE_NAMES.join(", "),
                })
            }
        };
        if let Some((key, _)) = values.first() {
            return Err(syntax(format!("'{name}' takes no '{key}'")));
        }
        Ok(decay)
    }
}

/// The schedules' names, as `--schedule` takes them.
pub const SCHEDULE_NAMES: [&str; 13] = [
    "constant",
    "linear",
    "step",
    "exponential",
    "inverse-time",
    "cosine",
    "cosine-annealing",
    "warmup",
    "multi-step",
    "polynomial",
    "one-cycle",
    "cosine-restarts",
    "constant-factor",
];

/// The half cosine from `start` (progress 0) to `end` (progress 1), in PyTorch's order
/// (`end + (start − end)/2·(cos(π·progress) + 1)`).
fn half_cosine(start: f64, end: f64, progress: f64) -> f64 {
    end + (start - end) / 2.0 * ((std::f64::consts::PI * progress).cos() + 1.0)
}

impl fmt::Display for Decay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decay::MultiStep { milestones, gamma } => {
                let at: Vec<String> = milestones.iter().map(u64::to_string).collect();
                write!(f, "multi-step:at={},gamma={gamma}", at.join("/"))
            }
            Decay::Polynomial { steps, power } => write!(f, "polynomial:steps={steps},power={power}"),
            Decay::OneCycle { steps, pct_start, div, final_div } => {
                write!(f, "one-cycle:steps={steps},pct={pct_start},div={div},final-div={final_div}")
            }
            Decay::CosineRestarts { period, mult, min_factor } => {
                write!(f, "cosine-restarts:period={period},mult={mult},min={min_factor}")
            }
            Decay::ConstantFactor { factor, steps } => write!(f, "constant-factor:factor={factor},steps={steps}"),
            Decay::Constant => write!(f, "constant"),
            Decay::Linear { tau, end_factor, .. } => write!(f, "linear:tau={tau},end={end_factor}"),
            Decay::Step { every, gamma } => write!(f, "step:every={every},gamma={gamma}"),
            Decay::Exponential { gamma } => write!(f, "exponential:gamma={gamma}"),
            Decay::InverseTime { gamma } => write!(f, "inverse-time:gamma={gamma}"),
            Decay::Cosine { period, min_factor } => write!(f, "cosine:period={period},min={min_factor}"),
            Decay::CosineAnnealing { period, min_factor } => {
                write!(f, "cosine-annealing:period={period},min={min_factor}")
            }
            Decay::Warmup { steps } => write!(f, "warmup:steps={steps}"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, phase) in self.phases.iter().enumerate() {
            if index > 0 {
                f.write_str("+")?;
            }
            write!(f, "{phase}")?;
        }
        Ok(())
    }
}

impl FromStr for Decay {
    type Err = ConfigError;
    /// Parses one phase; τ and T default to 1 step here (use [`Schedule::parse`] to supply a total).
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        Decay::parse(text, 1)
    }
}

/// Reduce-on-plateau: divide the rate by 1/`factor` when the monitored metric has not improved
/// for `patience` evaluations (Keras' `ReduceLROnPlateau`, PyTorch's `ReduceLROnPlateau` with
/// `threshold_mode='rel'`). Unlike a [`Schedule`] it has state, which a checkpoint must save.
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceOnPlateau {
    /// Multiplier applied at each reduction (0 < factor < 1).
    pub factor: f64,
    /// Evaluations without improvement before reducing.
    pub patience: u32,
    /// Relative improvement that counts: new < best·(1 − threshold).
    pub threshold: f64,
    /// The smallest multiplier reached.
    pub min_scale: f64,
    /// Current multiplier of ε.
    pub scale: f64,
    /// Best metric so far.
    pub best: f64,
    /// Evaluations since the best.
    pub bad_evaluations: u32,
}

impl ReduceOnPlateau {
    /// Defaults of PyTorch: factor 0.1, patience 10, threshold 1e-4.
    pub fn new(factor: f64, patience: u32) -> Result<Self, ConfigError> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(ConfigError::OutOfRange { field: "factor", expected: "in (0, 1)", value: factor });
        }
        Ok(ReduceOnPlateau {
            factor,
            patience,
            threshold: 1e-4,
            min_scale: 0.0,
            scale: 1.0,
            best: f64::INFINITY,
            bad_evaluations: 0,
        })
    }

    /// Records one evaluation of a metric to be minimized; returns the multiplier to use next.
    pub fn observe(&mut self, metric: f64) -> f64 {
        if metric < self.best * (1.0 - self.threshold) || self.best.is_infinite() {
            self.best = metric;
            self.bad_evaluations = 0;
        } else {
            self.bad_evaluations += 1;
            if self.bad_evaluations > self.patience {
                self.scale = (self.scale * self.factor).max(self.min_scale);
                self.bad_evaluations = 0;
            }
        }
        self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_decay_follows_the_chapter() {
        // ε₀ = 1, τ = 100, ε_τ = 0.01, updates counted from 1 (Algorithm 8.1): update 1 (k = 0
        // here) uses α = 1/100, ε = 0.99 + 0.0001 = 0.9901; update 50 (k = 49) uses α = 1/2,
        // ε = 0.505; update 100 (k = 99), the last of a 100-update run, uses ε_τ = 0.01.
        let s = Schedule::linear(1.0, 100);
        assert!((s.lr(0) - 0.9901).abs() < 1e-15);
        assert!((s.lr(49) - 0.505).abs() < 1e-15);
        assert!((s.lr(98) - 0.0199).abs() < 1e-15);
        assert_eq!(s.lr(99), 0.01);
        assert_eq!(s.lr(10_000), 0.01);
        // PyTorch's LinearLR(start_factor=1, end_factor=0.01, total_iters=100) counts from 0:
        // its first update uses ε₀, update k uses 1 − 0.99k/100, from k = 100 on 0.01.
        let torch = Schedule::parse("linear:tau=100", 1.0, 0).unwrap().with_convention(crate::Convention::Torch);
        assert_eq!(torch.lr(0), 1.0);
        assert!((torch.lr(50) - 0.505).abs() < 1e-15);
        assert!((torch.lr(99) - 0.0199).abs() < 1e-15);
        assert_eq!(torch.lr(100), 0.01);
        let book = Schedule::parse("linear:tau=100", 1.0, 0).unwrap().with_convention(crate::Convention::Book);
        assert_eq!(book, s);
    }

    #[test]
    fn closed_forms() {
        let at = |text: &str, k| Schedule::parse(text, 2.0, 1000).unwrap().lr(k);
        assert_eq!(at("constant", 77), 2.0);
        assert!((at("step:every=10,gamma=0.5", 25) - 2.0 * 0.25).abs() < 1e-15);
        assert!((at("exponential:gamma=0.99", 3) - 2.0 * 0.99f64.powi(3)).abs() < 1e-15);
        assert!((at("inverse-time:gamma=0.1", 30) - 2.0 / 4.0).abs() < 1e-15);
        assert!((at("cosine:period=100", 50) - 1.0).abs() < 1e-15);
        assert!((at("cosine:period=100,min=0.1", 100) - 0.2).abs() < 1e-15);
        assert!((at("cosine:period=100,min=0.1", 1000) - 0.2).abs() < 1e-15);
        // PyTorch's CosineAnnealingLR goes on past T: cos(1.5π) = 0 puts k = 150 half way back up,
        // and k = 200 is ε₀ again, where `cosine` holds its floor.
        assert!((at("cosine-annealing:period=100,min=0.1", 150) - 1.1).abs() < 1e-15);
        assert!((at("cosine-annealing:period=100,min=0.1", 200) - 2.0).abs() < 1e-15);
        assert!((at("cosine-annealing:period=100,min=0.1", 100) - 0.2).abs() < 1e-15);
        assert!((at("cosine:period=100,min=0.1", 150) - 0.2).abs() < 1e-15);
        // linear with τ from the total (the torch indexing, as parsed): update k = τ is past the run.
        assert!((at("linear", 1000) - 0.02).abs() < 1e-15);
        // In the book's indexing the run's last update, k = 999, is the one at ε_τ = ε₀/100.
        let book = Schedule::parse("linear", 2.0, 1000).unwrap().with_convention(crate::Convention::Book);
        assert!((book.lr(999) - 0.02).abs() < 1e-15);
        // one-cycle over T = 100 from ε₀/d = 2/25 reaches its floor ε₀/(d·d_f) = 2/250000 at
        // step T − 1 = 99 and stays there (PyTorch raises past the end).
        for k in [99, 100, 101, 5000] {
            assert!((at("one-cycle:steps=100,pct=0.3,div=25,final-div=10000", k) - 8e-6).abs() < 1e-18, "{k}");
        }
    }

    #[test]
    fn warmup_then_decay_restarts_the_decay_clock() {
        // warmup over 4: ε₀/4, 2ε₀/4, 3ε₀/4, ε₀; then linear over 10 from its own k = 0.
        let s = Schedule::parse("warmup:4+linear:tau=10", 1.0, 0).unwrap();
        let first: Vec<f64> = (0..5).map(|k| s.lr(k)).collect();
        assert_eq!(first, vec![0.25, 0.5, 0.75, 1.0, 1.0]);
        assert!((s.lr(9) - (0.5 + 0.5 * 0.01)).abs() < 1e-15);
    }

    #[test]
    fn a_decay_after_warmup_spans_the_rest_of_the_run() {
        // PyTorch: SequentialLR([LinearLR(start_factor=1/20, total_iters=19), CosineAnnealingLR(
        // T_max=80)], milestones=[20]) over 100 updates, ε₀ = 1. Its cosine phase counts from
        // its own 0: at update 20 + j the rate is (1 + cos(πj/80))/2; j = 40 gives 0.5, j = 80
        // gives 0. Our warmup is ε₀(k + 1)/20 over the first 20 updates.
        let s = Schedule::parse("warmup:20+cosine", 1.0, 100).unwrap();
        assert_eq!(s.phases[1], Decay::Cosine { period: 80, min_factor: 0.0 });
        assert!((s.lr(19) - 1.0).abs() < 1e-15);
        assert!((s.lr(20) - 1.0).abs() < 1e-15);
        assert!((s.lr(60) - 0.5).abs() < 1e-15);
        assert!((s.lr(70) - (1.0 + (std::f64::consts::PI * 50.0 / 80.0).cos()) / 2.0).abs() < 1e-15);
        // Values PyTorch 2.15 printed for that SequentialLR (its cosine is computed recursively,
        // hence agreement to rounding, not to the bit).
        for (k, torch) in [(1, 0.1), (70, 0.30865828381745514), (99, 0.0003854818796385495), (100, 0.0)] {
            assert!((s.lr(k) - torch).abs() < 1e-14, "update {k}: {} against {torch}", s.lr(k));
        }
        // Without warmup the decay spans the whole run.
        assert_eq!(
            Schedule::parse("cosine", 1.0, 100).unwrap().phases[0],
            Decay::Cosine { period: 100, min_factor: 0.0 }
        );
    }

    #[test]
    fn inverse_time_meets_robbins_monro() {
        // Σ 1/(1 + k) diverges (grows like ln n), Σ 1/(1 + k)² converges (to π²/6).
        let s = Schedule::parse("inverse-time:gamma=1", 1.0, 0).unwrap();
        let (sum, squares): (f64, f64) =
            (0..1_000_000).map(|k| (s.lr(k), s.lr(k).powi(2))).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert!(sum > 14.0);
        assert!((squares - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-5);
    }

    #[test]
    fn bad_text_names_the_fault() {
        let error = |text| Schedule::parse(text, 1.0, 10).unwrap_err().to_string();
        assert!(error("sawtooth").starts_with("unknown schedule 'sawtooth'"));
        assert_eq!(error("step:every=0"), "every must be a whole number >= 1, got 0");
        assert_eq!(error("exponential:gamma=x"), "schedule 'exponential:gamma=x': 'x' is not a number");
        assert_eq!(error("linear:speed=3"), "schedule 'linear:speed=3': 'linear' takes no 'speed'");
        assert!(error("linear+cosine").contains("at most one decay"));
    }

    #[test]
    fn display_round_trips() {
        let s = Schedule::parse("warmup:5+cosine:period=50,min=0.1", 0.1, 0).unwrap();
        assert_eq!(Schedule::parse(&s.to_string(), 0.1, 0).unwrap(), s);
    }

    #[test]
    fn plateau_reduces_after_patience() {
        let mut plateau = ReduceOnPlateau::new(0.5, 1).unwrap();
        assert_eq!(plateau.observe(1.0), 1.0);
        assert_eq!(plateau.observe(1.0), 1.0); // one bad evaluation: within patience
        assert_eq!(plateau.observe(1.0), 0.5); // two: reduce
        assert_eq!(plateau.observe(0.5), 0.5); // improvement resets
    }

    #[test]
    fn plateau_counts_only_improvements_past_the_threshold() {
        // PyTorch's relative mode: an improvement is a metric strictly below best·(1 − 1e-4), and
        // each one resets the count of bad evaluations.
        let mut plateau = ReduceOnPlateau::new(0.5, 1).unwrap();
        assert_eq!(plateau.observe(1.0), 1.0);
        assert_eq!(plateau.observe(0.9), 1.0); // improvement
        assert_eq!(plateau.observe(0.9), 1.0); // one bad evaluation
        assert_eq!(plateau.observe(0.8), 1.0); // improvement: the count starts again
        let edge = 0.8 * (1.0 - 1e-4);
        assert_eq!(plateau.observe(edge), 1.0); // at the threshold, not below it: one bad
        assert_eq!(plateau.observe(edge), 0.5); // two: reduce
    }

    proptest::proptest! {
        #[test]
        fn decays_never_increase(k in 0u64..10_000, gamma in 0.01f64..1.0, tau in 1u64..5000) {
            for decay in [Decay::Linear { tau, end_factor: 0.01, from_one: false }, Decay::Exponential { gamma }, Decay::InverseTime { gamma }, Decay::Cosine { period: tau, min_factor: 0.0 }, Decay::Step { every: tau, gamma }] {
                proptest::prop_assert!(decay.factor(k + 1) <= decay.factor(k));
            }
        }
    }

    #[test]
    fn new_schedules_refuse_what_they_cannot_do() {
        let error = |text: &str| Schedule::parse(text, 0.1, 100).unwrap_err().to_string();
        assert_eq!(error("multi-step:gamma=0.5"), "schedule 'multi-step:gamma=0.5': multi-step needs at=N/M/…");
        assert!(error("multi-step:at=300/100").starts_with("milestones must be one or more steps, increasing"));
        assert!(error("multi-step:at=1/x").contains("is not a list of steps like 100/300"));
        assert!(error("one-cycle:pct=0.001").starts_with("pct must be such that both phases last at least a step"));
        assert!(error("cosine-restarts:period=0").starts_with("period must be a whole number >= 1"));
        assert!(error("constant-factor:factor=-1").starts_with("factor must be a finite number >= 0"));
        assert!(error("polynomials").contains("one-cycle, cosine-restarts, constant-factor"));
        // Texts print back as they parse, with the defaults filled in (the cycle spans the 90
        // updates after the warmup).
        let schedule = Schedule::parse("warmup:10+one-cycle", 0.1, 100).unwrap();
        assert_eq!(schedule.to_string(), "warmup:steps=10+one-cycle:steps=90,pct=0.3,div=25,final-div=10000");
        assert_eq!(Schedule::parse(&schedule.to_string(), 0.1, 7).unwrap(), schedule);
    }
}
