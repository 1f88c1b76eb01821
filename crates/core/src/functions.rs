//! Two-dimensional test functions for watching optimizers move (SPEC §6): each with its exact
//! gradient and Hessian, a customary start, a view box for contour plots and its minima.
//!
//! | name | f(x, y) | minima |
//! |---|---|---|
//! | `quadratic` | ½(x² + κy²), condition number κ (default 100) | (0, 0) |
//! | `rosenbrock` | (1 − x)² + 100(y − x²)² | (1, 1) |
//! | `beale` | (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)² | (3, 0.5) |
//! | `saddle` | x² − y² | none (a saddle at the origin) |
//! | `himmelblau` | (x² + y − 11)² + (x + y² − 7)² | four, f = 0 |

use std::fmt;

use crate::Error;

/// A 2-D test function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Function2d {
    /// ½(x² + κy²): the Hessian's condition number is κ.
    Quadratic {
        /// κ = λ_max/λ_min.
        condition: f64,
    },
    /// Rosenbrock's banana valley.
    Rosenbrock,
    /// Beale's function: flat plateaus and sharp ridges.
    Beale,
    /// x² − y²: a saddle point at the origin, unbounded below.
    Saddle,
    /// Himmelblau's function: four minima of equal value.
    Himmelblau,
}

/// The function names.
pub const FUNCTION_NAMES: [&str; 5] = ["quadratic", "rosenbrock", "beale", "saddle", "himmelblau"];

/// A rectangle of the plane: x from `x.0` to `x.1`, y from `y.0` to `y.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewBox {
    /// x range.
    pub x: (f64, f64),
    /// y range.
    pub y: (f64, f64),
}

impl Function2d {
    /// The function called `name`; `condition` is κ for the quadratic (ignored otherwise).
    pub fn named(name: &str, condition: f64) -> Result<Self, Error> {
        let function = match name {
            "quadratic" => {
                if !(condition.is_finite() && condition >= 1.0) {
                    return Err(Error::Invalid {
                        field: "condition",
                        message: "must be a number >= 1",
                        value: condition.to_string(),
                    });
                }
                Function2d::Quadratic { condition }
            }
            "rosenbrock" => Function2d::Rosenbrock,
            "beale" => Function2d::Beale,
            "saddle" => Function2d::Saddle,
            "himmelblau" => Function2d::Himmelblau,
            _ => {
                return Err(Error::Config(descent_optim::ConfigError::Unknown {
                    kind: "function",
                    name: name.to_string(),
                    expected: FUNCTION_NAMES.join(", "),
                }))
            }
        };
        Ok(function)
    }

    /// The name, as on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Function2d::Quadratic { .. } => "quadratic",
            Function2d::Rosenbrock => "rosenbrock",
            Function2d::Beale => "beale",
            Function2d::Saddle => "saddle",
            Function2d::Himmelblau => "himmelblau",
        }
    }

    /// f(x, y).
    pub fn value(&self, x: f64, y: f64) -> f64 {
        match *self {
            // Halved before squaring: ½κy² is finite up to f64::MAX, κy² overflows at half of it.
            Function2d::Quadratic { condition } => 0.5 * x * x + 0.5 * condition * y * y,
            Function2d::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            Function2d::Beale => beale_terms(x, y).iter().map(|(u, _, _)| u * u).sum(),
            Function2d::Saddle => x * x - y * y,
            Function2d::Himmelblau => (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2),
        }
    }

    /// ∇f(x, y).
    pub fn gradient(&self, x: f64, y: f64) -> [f64; 2] {
        match *self {
            Function2d::Quadratic { condition } => [x, condition * y],
            Function2d::Rosenbrock => {
                // −2(1 − x) − 400x(y − x²) and 200(y − x²), evaluated in the order PyTorch's
                // autograd does, so that paths compared with PyTorch's differ only by the optimizer.
                let valley = 100.0 * (2.0 * (y - x * x));
                [-2.0 * (1.0 - x) - valley * (2.0 * x), valley]
            }
            Function2d::Beale => beale_terms(x, y)
                .iter()
                .fold([0.0, 0.0], |[gx, gy], (u, du, _)| [gx + 2.0 * u * du[0], gy + 2.0 * u * du[1]]),
            Function2d::Saddle => [2.0 * x, -2.0 * y],
            Function2d::Himmelblau => {
                let (a, b) = (x * x + y - 11.0, x + y * y - 7.0);
                [4.0 * a * x + 2.0 * b, 2.0 * a + 4.0 * b * y]
            }
        }
    }

    /// The Hessian ∇²f(x, y), row-major.
    pub fn hessian(&self, x: f64, y: f64) -> [[f64; 2]; 2] {
        match *self {
            Function2d::Quadratic { condition } => [[1.0, 0.0], [0.0, condition]],
            Function2d::Rosenbrock => [[2.0 - 400.0 * y + 1200.0 * x * x, -400.0 * x], [-400.0 * x, 200.0]],
            Function2d::Beale => {
                // Σ 2(∇uᵢ∇uᵢᵀ + uᵢ∇²uᵢ).
                beale_terms(x, y).iter().fold([[0.0; 2]; 2], |mut h, (u, du, d2u)| {
                    for i in 0..2 {
                        for j in 0..2 {
                            h[i][j] += 2.0 * (du[i] * du[j] + u * d2u[i][j]);
                        }
                    }
                    h
                })
            }
            Function2d::Saddle => [[2.0, 0.0], [0.0, -2.0]],
            Function2d::Himmelblau => {
                let (a, b) = (x * x + y - 11.0, x + y * y - 7.0);
                [[8.0 * x * x + 4.0 * a + 2.0, 4.0 * x + 4.0 * y], [4.0 * x + 4.0 * y, 2.0 + 8.0 * y * y + 4.0 * b]]
            }
        }
    }

    /// The customary starting point.
    pub fn default_start(&self) -> [f64; 2] {
        match self {
            Function2d::Quadratic { .. } => [-1.5, 0.5],
            Function2d::Rosenbrock => [-1.5, 2.0],
            Function2d::Beale => [1.0, 1.5],
            Function2d::Saddle => [-1.5, 0.01],
            Function2d::Himmelblau => [0.0, 0.0],
        }
    }

    /// A learning rate that shows the function's character for plain gradient descent. For the
    /// quadratic, 1.9/κ: just inside SGD's stability limit 2/λ_max, where it zig-zags across the
    /// valley and crawls along it, the picture of ill-conditioning in the chapter.
    pub fn suggested_lr(&self) -> f64 {
        match *self {
            Function2d::Quadratic { condition } => 1.9 / condition,
            Function2d::Rosenbrock => 1e-3,
            Function2d::Beale => 1e-2,
            Function2d::Saddle => 0.05,
            Function2d::Himmelblau => 1e-2,
        }
    }

    /// The region a contour plot shows.
    pub fn view(&self) -> ViewBox {
        match self {
            Function2d::Quadratic { .. } => ViewBox { x: (-2.0, 2.0), y: (-1.0, 1.0) },
            Function2d::Rosenbrock => ViewBox { x: (-2.0, 2.0), y: (-1.0, 3.0) },
            Function2d::Beale => ViewBox { x: (-4.5, 4.5), y: (-4.5, 4.5) },
            Function2d::Saddle => ViewBox { x: (-2.0, 2.0), y: (-2.0, 2.0) },
            Function2d::Himmelblau => ViewBox { x: (-5.0, 5.0), y: (-5.0, 5.0) },
        }
    }

    /// The global minimizers (empty for the saddle, which has none).
    pub fn minima(&self) -> Vec<[f64; 2]> {
        match self {
            Function2d::Quadratic { .. } => vec![[0.0, 0.0]],
            Function2d::Rosenbrock => vec![[1.0, 1.0]],
            Function2d::Beale => vec![[3.0, 0.5]],
            Function2d::Saddle => vec![],
            Function2d::Himmelblau => {
                vec![[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]]
            }
        }
    }

    /// The minimum value f*, if the function is bounded below.
    pub fn minimum_value(&self) -> Option<f64> {
        match self {
            Function2d::Saddle => None,
            _ => Some(0.0),
        }
    }
}

impl fmt::Display for Function2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Function2d::Quadratic { condition } => write!(f, "quadratic (κ = {condition})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Beale's three terms uᵢ with their gradients and Hessians.
#[allow(clippy::type_complexity)]
fn beale_terms(x: f64, y: f64) -> [(f64, [f64; 2], [[f64; 2]; 2]); 3] {
    [
        (1.5 - x + x * y, [y - 1.0, x], [[0.0, 1.0], [1.0, 0.0]]),
        (2.25 - x + x * y * y, [y * y - 1.0, 2.0 * x * y], [[0.0, 2.0 * y], [2.0 * y, 2.0 * x]]),
        (
            2.625 - x + x * y * y * y,
            [y * y * y - 1.0, 3.0 * x * y * y],
            [[0.0, 3.0 * y * y], [3.0 * y * y, 6.0 * x * y]],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Function2d> {
        FUNCTION_NAMES.iter().map(|name| Function2d::named(name, 100.0).unwrap()).collect()
    }

    #[test]
    fn gradients_match_central_differences() {
        let h = 1e-6;
        for function in all() {
            for &(x, y) in &[(0.3, -0.7), (-1.2, 1.1), (2.0, 0.4)] {
                let [gx, gy] = function.gradient(x, y);
                let dx = (function.value(x + h, y) - function.value(x - h, y)) / (2.0 * h);
                let dy = (function.value(x, y + h) - function.value(x, y - h)) / (2.0 * h);
                let scale = 1.0 + gx.abs().max(gy.abs());
                assert!((gx - dx).abs() < 1e-6 * scale && (gy - dy).abs() < 1e-6 * scale, "{function} at ({x}, {y})");
            }
        }
    }

    #[test]
    fn hessians_match_central_differences_of_the_gradient() {
        let h = 1e-5;
        for function in all() {
            for &(x, y) in &[(0.3, -0.7), (-1.2, 1.1), (2.0, 0.4)] {
                let hessian = function.hessian(x, y);
                let columns = [
                    (function.gradient(x + h, y), function.gradient(x - h, y)),
                    (function.gradient(x, y + h), function.gradient(x, y - h)),
                ];
                for (j, (plus, minus)) in columns.iter().enumerate() {
                    for i in 0..2 {
                        let numeric = (plus[i] - minus[i]) / (2.0 * h);
                        assert!(
                            (hessian[i][j] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()),
                            "{function} H[{i}][{j}]"
                        );
                    }
                }
                assert_eq!(hessian[0][1], hessian[1][0]);
            }
        }
    }

    #[test]
    fn minima_are_stationary_with_value_zero() {
        for function in all() {
            for [x, y] in function.minima() {
                let [gx, gy] = function.gradient(x, y);
                assert!(gx.abs() < 1e-4 && gy.abs() < 1e-4, "{function} at ({x}, {y})");
                assert!(function.value(x, y) < 1e-10);
            }
        }
    }

    #[test]
    fn quadratic_condition_number_is_kappa() {
        let h = Function2d::named("quadratic", 250.0).unwrap().hessian(0.4, 0.1);
        assert_eq!(h[1][1] / h[0][0], 250.0);
    }

    #[test]
    fn bad_names_and_conditions_are_errors() {
        assert!(Function2d::named("banana", 1.0).unwrap_err().to_string().starts_with("unknown function 'banana'"));
        assert_eq!(
            Function2d::named("quadratic", 0.5).unwrap_err().to_string(),
            "condition must be a number >= 1, got 0.5"
        );
    }
}
