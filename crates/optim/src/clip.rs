//! Gradient clipping: the remedy for cliffs and exploding gradients (chapter 8.2.4, 10.11.1).
//!
//! - **By value**: each component is clamped to [−c, c]. Cheap, but changes the direction.
//! - **By norm**: each tensor (a parameter group of the [`Optimizer`](crate::Optimizer)) is
//!   rescaled so that its norm is at most c; the direction is kept.
//! - **By global norm**: all gradients, as one vector, are rescaled so that their joint norm is at
//!   most c (PyTorch's `clip_grad_norm_`, TensorFlow's `clip_by_global_norm`).
//!
//! Rescaling follows PyTorch: g ← g·min(1, c/(‖g‖ + 1e-6)). Inside an optimizer step the scale is
//! folded into the update kernel, so clipping costs one extra read of the gradients (the norm).

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;
use crate::parallel::sum_of_squares;
use crate::Float;

/// How (and whether) to clip gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Clamp each component to [−c, c].
    Value(f64),
    /// Rescale each tensor (parameter group) to norm at most c.
    Norm(f64),
    /// Rescale all gradients together to joint norm at most c.
    GlobalNorm(f64),
}

impl Clip {
    /// The bound c.
    pub fn threshold(self) -> f64 {
        match self {
            Clip::Value(c) | Clip::Norm(c) | Clip::GlobalNorm(c) => c,
        }
    }

    /// Checks that the bound is a positive finite number.
    pub fn validate(self) -> Result<(), ConfigError> {
        super::algorithms::check_positive("clip threshold", self.threshold())
    }
}

impl fmt::Display for Clip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clip::Value(c) => write!(f, "value:{c}"),
            Clip::Norm(c) => write!(f, "norm:{c}"),
            Clip::GlobalNorm(c) => write!(f, "global-norm:{c}"),
        }
    }
}

impl FromStr for Clip {
    type Err = ConfigError;
    /// Parses `value:C`, `norm:C` or `global-norm:C`.
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let syntax =
            |message: &str| ConfigError::Syntax { what: format!("clip '{text}'"), message: message.to_string() };
        let (mode, threshold) =
            text.split_once(':').ok_or_else(|| syntax("expected MODE:THRESHOLD, e.g. global-norm:1.0"))?;
        let threshold: f64 = threshold.trim().parse().map_err(|_| syntax("the threshold is not a number"))?;
        let clip = match mode.trim() {
            "value" => Clip::Value(threshold),
            "norm" => Clip::Norm(threshold),
            "global-norm" => Clip::GlobalNorm(threshold),
            other => {
                return Err(ConfigError::Unknown {
                    kind: "clip mode",
                    name: other.to_string(),
                    expected: "value, norm, global-norm".to_string(),
                })
            }
        };
        clip.validate()?;
        Ok(clip)
    }
}

/// The Euclidean norm ‖g‖₂ (accumulated in f64, deterministic for any thread count).
pub fn norm<F: Float>(grads: &[F]) -> f64 {
    sum_of_squares(grads).sqrt()
}

/// The joint norm of several gradient slices, as one vector.
pub fn global_norm<F: Float>(parts: &[&[F]]) -> f64 {
    parts.iter().map(|part| sum_of_squares(part)).sum::<f64>().sqrt()
}

/// The factor PyTorch applies for norm `norm` and bound `max_norm`: min(1, c/(‖g‖ + 1e-6)).
pub fn scale_for_norm(norm: f64, max_norm: f64) -> f64 {
    (max_norm / (norm + 1e-6)).min(1.0)
}

/// `g` clamped to [−bound, bound]. Comparisons rather than min/max, so that a NaN gradient stays
/// NaN (and gets noticed) instead of being replaced by a bound.
#[inline(always)]
pub fn clamp<F: Float>(g: F, bound: F) -> F {
    if g > bound {
        bound
    } else if g < -bound {
        -bound
    } else {
        g
    }
}

/// Clamps every component to [−c, c] in place (NaN stays NaN).
pub fn clip_by_value<F: Float>(grads: &mut [F], threshold: F) {
    grads.iter_mut().for_each(|g| *g = clamp(*g, threshold));
}

/// Rescales `grads` in place to norm at most `max_norm`; returns the norm before clipping.
pub fn clip_by_norm<F: Float>(grads: &mut [F], max_norm: f64) -> f64 {
    let total = norm(grads);
    scale_all(&mut [grads], scale_for_norm(total, max_norm));
    total
}

/// Rescales all `parts` together to joint norm at most `max_norm`; returns the joint norm before.
pub fn clip_by_global_norm<F: Float>(parts: &mut [&mut [F]], max_norm: f64) -> f64 {
    let views: Vec<&[F]> = parts.iter().map(|part| &**part).collect();
    let total = global_norm(&views);
    scale_all(parts, scale_for_norm(total, max_norm));
    total
}

fn scale_all<F: Float>(parts: &mut [&mut [F]], scale: f64) {
    if scale < 1.0 {
        let scale = F::from_f64(scale);
        parts.iter_mut().flat_map(|part| part.iter_mut()).for_each(|g| *g *= scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_through_display_and_parse() {
        // Configs and experiment files store clipping as this text (found missing by cargo-mutants).
        for (clip, text) in
            [(Clip::Value(0.5), "value:0.5"), (Clip::Norm(2.0), "norm:2"), (Clip::GlobalNorm(1.0), "global-norm:1")]
        {
            assert_eq!(clip.to_string(), text);
            assert_eq!(text.parse::<Clip>().unwrap(), clip);
        }
    }

    #[test]
    fn by_value_clamps_each_component() {
        let mut g = [3.0, -0.5, -7.0, 1.0];
        clip_by_value(&mut g, 1.0);
        assert_eq!(g, [1.0, -0.5, -1.0, 1.0]);
    }

    #[test]
    fn by_value_keeps_nan_visible() {
        let mut g = [f64::NAN];
        clip_by_value(&mut g, 1.0);
        assert!(g[0].is_nan());
    }

    #[test]
    fn by_norm_keeps_direction_and_caps_length() {
        // (3, 4) has norm 5; clipped to 1 it becomes (3, 4)·1/(5 + 1e-6).
        let mut g = [3.0, 4.0];
        let before = clip_by_norm(&mut g, 1.0);
        assert_eq!(before, 5.0);
        let expected = 1.0 / (5.0 + 1e-6);
        assert!((g[0] - 3.0 * expected).abs() < 1e-15 && (g[1] - 4.0 * expected).abs() < 1e-15);
    }

    #[test]
    fn by_norm_leaves_short_gradients_alone() {
        let mut g = [0.3, 0.4];
        clip_by_norm(&mut g, 1.0);
        assert_eq!(g, [0.3, 0.4]);
    }

    #[test]
    fn global_norm_treats_parts_as_one_vector() {
        // ‖(1, 2)‖² + ‖(2)‖² = 9: joint norm 3; each part scaled by 1.5/(3 + 1e-6).
        let (mut a, mut b) = ([1.0, 2.0], [2.0]);
        let total = clip_by_global_norm(&mut [&mut a[..], &mut b[..]], 1.5);
        assert_eq!(total, 3.0);
        let s = 1.5 / (3.0 + 1e-6);
        assert!((a[0] - s).abs() < 1e-15 && (a[1] - 2.0 * s).abs() < 1e-15 && (b[0] - 2.0 * s).abs() < 1e-15);
    }

    #[test]
    fn parses_and_rejects_with_the_culprit_named() {
        assert_eq!("global-norm:2.5".parse::<Clip>().unwrap(), Clip::GlobalNorm(2.5));
        assert_eq!("value:1".parse::<Clip>().unwrap(), Clip::Value(1.0));
        assert!("norm:-1".parse::<Clip>().unwrap_err().to_string().contains("got -1"));
        assert!("size:1".parse::<Clip>().unwrap_err().to_string().contains("unknown clip mode 'size'"));
        assert!("norm".parse::<Clip>().unwrap_err().to_string().starts_with("clip 'norm'"));
    }

    proptest::proptest! {
        #[test]
        fn clipped_norm_never_exceeds_threshold(values in proptest::collection::vec(-1e3f64..1e3, 1..64), c in 1e-3f64..10.0) {
            let mut g = values.clone();
            clip_by_norm(&mut g, c);
            proptest::prop_assert!(norm(&g) <= c * (1.0 + 1e-12));
        }
    }
}
