//! Initializers (chapter 8.4): fill a weight slice from a seeded random generator, given the
//! fan-in m (inputs per unit) and fan-out n (outputs per unit).
//!
//! | initializer | distribution |
//! |---|---|
//! | `glorot-uniform` (Xavier) | U(−√(6/(m+n)), √(6/(m+n))) |
//! | `glorot-normal` | N(0, 2/(m+n)) |
//! | `uniform-fan-in` (the chapter's heuristic) | U(−1/√m, 1/√m) |
//! | `he-uniform` (Kaiming) | U(−√(6/m), √(6/m)) |
//! | `he-normal` | N(0, 2/m) |
//! | `lecun-normal` | N(0, 1/m) |
//! | `orthogonal` | a random orthogonal matrix (QR of a Gaussian one, signs fixed), times a gain |
//! | `zeros`, `constant` | for biases |
//!
//! Glorot's rule keeps the variance of activations and of gradients equal across layers for
//! linear units; He's doubles it to make up for ReLU zeroing half the units; orthogonal matrices
//! keep every singular value at 1, so repeated products (deep or recurrent nets) neither explode nor
//! vanish at the start.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use crate::error::ConfigError;
use crate::Float;

/// A weight initializer, by name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// U(±√(6/(m+n))).
    GlorotUniform,
    /// N(0, 2/(m+n)).
    GlorotNormal,
    /// U(±1/√m), the chapter's heuristic.
    UniformFanIn,
    /// U(±√(6/m)).
    HeUniform,
    /// N(0, 2/m).
    HeNormal,
    /// N(0, 1/m).
    LecunNormal,
    /// Orthogonal with the given gain.
    Orthogonal {
        /// Multiplies the orthogonal matrix (√2 suits ReLU, 1 tanh).
        gain: f64,
    },
    /// All zeros.
    Zeros,
    /// All equal to a value.
    Constant(f64),
}

/// The initializer names, for messages and help.
pub const INIT_NAMES: [&str; 9] = [
    "glorot-uniform",
    "glorot-normal",
    "uniform-fan-in",
    "he-uniform",
    "he-normal",
    "lecun-normal",
    "orthogonal",
    "zeros",
    "constant",
];

impl Init {
    /// Fills `weights`, a `fan_out × fan_in` matrix stored row by row, from `seed` alone: the
    /// same draws as [`fill`](Self::fill) with a `ChaCha8Rng` seeded by `seed` (what descent's
    /// networks use), without tying the caller to a version of `rand`.
    ///
    /// ```
    /// use descent_optim::Init;
    /// let mut w = vec![0.0f32; 6];
    /// Init::GlorotUniform.fill_seeded(&mut w, 3, 2, 42);
    /// let bound = (6.0f32 / 5.0).sqrt();
    /// assert!(w.iter().all(|&x| x.abs() <= bound) && w.iter().any(|&x| x != 0.0));
    /// ```
    pub fn fill_seeded<F: Float>(self, weights: &mut [F], fan_in: usize, fan_out: usize, seed: u64) {
        use rand::SeedableRng;
        self.fill(weights, fan_in, fan_out, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    }

    /// Fills `weights`, a `fan_out × fan_in` matrix stored row by row (one row per output unit),
    /// drawing from `rng`.
    ///
    /// # Panics
    /// If `weights.len() != fan_in * fan_out` (a programming error, not user input).
    pub fn fill<F: Float, R: Rng + ?Sized>(self, weights: &mut [F], fan_in: usize, fan_out: usize, rng: &mut R) {
        self.fill_matrix(weights, (fan_out, fan_in), fan_in, fan_out, rng);
    }

    /// Fills `weights`, a `rows × cols` matrix stored row by row, scaled by fans that differ from
    /// its shape: a convolution's kernels are `filters × (k·k·C)`, but its fan-out, as PyTorch and
    /// Keras count it, is `filters·k·k`. Orthogonal rows (or columns) follow the shape.
    ///
    /// # Panics
    /// If `weights.len() != rows * cols` (a programming error, not user input).
    pub fn fill_matrix<F: Float, R: Rng + ?Sized>(
        self,
        weights: &mut [F],
        (rows, cols): (usize, usize),
        fan_in: usize,
        fan_out: usize,
        rng: &mut R,
    ) {
        assert_eq!(weights.len(), rows * cols, "weights must hold rows × cols values");
        let (m, n) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        match self {
            Init::GlorotUniform => fill_uniform(weights, (6.0 / (m + n)).sqrt(), rng),
            Init::GlorotNormal => fill_normal(weights, (2.0 / (m + n)).sqrt(), rng),
            Init::UniformFanIn => fill_uniform(weights, 1.0 / m.sqrt(), rng),
            Init::HeUniform => fill_uniform(weights, (6.0 / m).sqrt(), rng),
            Init::HeNormal => fill_normal(weights, (2.0 / m).sqrt(), rng),
            Init::LecunNormal => fill_normal(weights, (1.0 / m).sqrt(), rng),
            Init::Orthogonal { gain } => fill_orthogonal(weights, rows, cols, gain, rng),
            Init::Zeros => weights.fill(F::ZERO),
            Init::Constant(value) => weights.fill(F::from_f64(value)),
        }
    }
}

impl FromStr for Init {
    type Err = ConfigError;
    /// Parses a name from [`INIT_NAMES`]; `orthogonal:GAIN` and `constant:VALUE` take a number.
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let (name, argument) = text.split_once(':').unwrap_or((text, ""));
        let number = |default: f64| -> Result<f64, ConfigError> {
            if argument.is_empty() {
                return Ok(default);
            }
            argument.parse().map_err(|_| ConfigError::Syntax {
                what: format!("initializer '{text}'"),
                message: format!("'{argument}' is not a number"),
            })
        };
        Ok(match name {
            "glorot-uniform" | "xavier-uniform" => Init::GlorotUniform,
            "glorot-normal" | "xavier-normal" => Init::GlorotNormal,
            "uniform-fan-in" => Init::UniformFanIn,
            "he-uniform" | "kaiming-uniform" => Init::HeUniform,
            "he-normal" | "kaiming-normal" => Init::HeNormal,
            "lecun-normal" => Init::LecunNormal,
            "orthogonal" => Init::Orthogonal { gain: number(1.0)? },
            "zeros" => Init::Zeros,
            "constant" => Init::Constant(number(0.0)?),
            _ => {
                return Err(ConfigError::Unknown {
                    kind: "initializer",
                    name: name.to_string(),
                    expected: INIT_NAMES.join(", "),
                })
            }
        })
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::GlorotUniform => f.write_str("glorot-uniform"),
            Init::GlorotNormal => f.write_str("glorot-normal"),
            Init::UniformFanIn => f.write_str("uniform-fan-in"),
            Init::HeUniform => f.write_str("he-uniform"),
            Init::HeNormal => f.write_str("he-normal"),
            Init::LecunNormal => f.write_str("lecun-normal"),
            Init::Orthogonal { gain } => write!(f, "orthogonal:{gain}"),
            Init::Zeros => f.write_str("zeros"),
            Init::Constant(value) => write!(f, "constant:{value}"),
        }
    }
}

/// Fills with U(−bound, bound).
pub fn fill_uniform<F: Float, R: Rng + ?Sized>(values: &mut [F], bound: f64, rng: &mut R) {
    if bound == 0.0 {
        values.fill(F::ZERO);
        return;
    }
    let distribution = Uniform::new(-bound, bound);
    values.iter_mut().for_each(|v| *v = F::from_f64(distribution.sample(rng)));
}

/// Fills with N(0, std²).
pub fn fill_normal<F: Float, R: Rng + ?Sized>(values: &mut [F], std: f64, rng: &mut R) {
    values.iter_mut().for_each(|v| {
        let z: f64 = StandardNormal.sample(rng);
        *v = F::from_f64(std * z);
    });
}

/// Fills a `rows × cols` row-major matrix with a random orthogonal one times `gain`: orthonormal
/// rows if rows ≤ cols, orthonormal columns otherwise.
///
/// A Gaussian matrix is factored by modified Gram–Schmidt (QR) in f64, and each basis vector's
/// sign is chosen so that R has a positive diagonal, which makes Q uniformly distributed (Haar),
/// as PyTorch's `orthogonal_` does.
pub fn fill_orthogonal<F: Float, R: Rng + ?Sized>(values: &mut [F], rows: usize, cols: usize, gain: f64, rng: &mut R) {
    assert_eq!(values.len(), rows * cols);
    // Orthonormalize the `short` vectors of length `long` (rows of the matrix or of its transpose).
    let (short, long) = if rows <= cols { (rows, cols) } else { (cols, rows) };
    let mut basis: Vec<f64> = (0..short * long).map(|_| StandardNormal.sample(rng)).collect();
    for i in 0..short {
        let (done, rest) = basis.split_at_mut(i * long);
        let vector = &mut rest[..long];
        for j in 0..i {
            let previous = &done[j * long..(j + 1) * long];
            let projection: f64 = previous.iter().zip(vector.iter()).map(|(a, b)| a * b).sum();
            vector.iter_mut().zip(previous).for_each(|(v, p)| *v -= projection * p);
        }
        let norm = vector.iter().map(|v| v * v).sum::<f64>().sqrt();
        vector.iter_mut().for_each(|v| *v /= norm);
    }
    for (i, vector) in basis.chunks(long).enumerate() {
        for (j, &value) in vector.iter().enumerate() {
            // Vector i is row i (rows ≤ cols) or column i (rows > cols).
            let (row, col) = if rows <= cols { (i, j) } else { (j, i) };
            values[row * cols + col] = F::from_f64(gain * value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn moments(values: &[f64]) -> (f64, f64) {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        (mean, variance)
    }

    #[test]
    fn uniform_initializers_respect_bounds_and_variance() {
        // U(−a, a) has variance a²/3.
        let (m, n) = (300, 200);
        let cases = [
            (Init::GlorotUniform, (6.0 / 500.0f64).sqrt()),
            (Init::UniformFanIn, 1.0 / 300.0f64.sqrt()),
            (Init::HeUniform, (6.0 / 300.0f64).sqrt()),
        ];
        for (init, bound) in cases {
            let mut w = vec![0.0f64; m * n];
            init.fill(&mut w, m, n, &mut ChaCha8Rng::seed_from_u64(1));
            assert!(w.iter().all(|v| v.abs() <= bound), "{init}");
            let (mean, variance) = moments(&w);
            assert!(mean.abs() < 0.01 * bound, "{init}: mean {mean}");
            assert!((variance / (bound * bound / 3.0) - 1.0).abs() < 0.02, "{init}: variance {variance}");
        }
    }

    #[test]
    fn normal_initializers_have_their_variance() {
        let (m, n) = (400, 100);
        for (init, variance) in
            [(Init::GlorotNormal, 2.0 / 500.0), (Init::HeNormal, 2.0 / 400.0), (Init::LecunNormal, 1.0 / 400.0)]
        {
            let mut w = vec![0.0f64; m * n];
            init.fill(&mut w, m, n, &mut ChaCha8Rng::seed_from_u64(2));
            let (mean, measured) = moments(&w);
            assert!(mean.abs() < 0.02 * variance.sqrt(), "{init}");
            assert!((measured / variance - 1.0).abs() < 0.02, "{init}: {measured} vs {variance}");
        }
    }

    #[test]
    fn orthogonal_has_orthonormal_rows_or_columns() {
        for (rows, cols) in [(5, 5), (3, 7), (7, 3)] {
            let mut w = vec![0.0f64; rows * cols];
            Init::Orthogonal { gain: 2.0 }.fill(&mut w, cols, rows, &mut ChaCha8Rng::seed_from_u64(3));
            // QᵀQ = gain²·I over the short dimension.
            let short = rows.min(cols);
            for a in 0..short {
                for b in 0..short {
                    let dot: f64 = if rows <= cols {
                        (0..cols).map(|k| w[a * cols + k] * w[b * cols + k]).sum()
                    } else {
                        (0..rows).map(|k| w[k * cols + a] * w[k * cols + b]).sum()
                    };
                    let expected = if a == b { 4.0 } else { 0.0 };
                    assert!((dot - expected).abs() < 1e-12, "{rows}x{cols} ({a},{b}): {dot}");
                }
            }
        }
    }

    #[test]
    fn same_seed_same_weights() {
        let fill = |seed| {
            let mut w = vec![0.0f32; 64];
            Init::HeNormal.fill(&mut w, 8, 8, &mut ChaCha8Rng::seed_from_u64(seed));
            w
        };
        assert_eq!(fill(7), fill(7));
        assert_ne!(fill(7), fill(8));
    }

    #[test]
    fn names_parse_and_round_trip() {
        for name in INIT_NAMES {
            let init: Init = name.parse().unwrap();
            assert_eq!(init.to_string().parse::<Init>().unwrap(), init);
        }
        assert_eq!("orthogonal:1.5".parse::<Init>().unwrap(), Init::Orthogonal { gain: 1.5 });
        assert!("glorot".parse::<Init>().unwrap_err().to_string().starts_with("unknown initializer 'glorot'"));
    }
}
