//! Paired comparisons over seeds. Two variants run with the same seed share their initialization
//! and their train/validation split, so the difference of their results seed by seed removes
//! what the seed does to both; what is left is compared with Student's t distribution.
//!
//! For differences d₁, …, d_n (n ≥ 2) with mean d̄ and sample standard deviation s:
//!
//! ```text
//! t = d̄ / (s/√n),  ν = n − 1
//! 95% interval: d̄ ± t_{0.975, ν} · s/√n
//! two-sided p = P(|T_ν| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2)
//! ```
//!
//! where I is the regularized incomplete beta function (Abramowitz & Stegun 26.7.1 with 26.5.27),
//! evaluated by its continued fraction (Numerical Recipes, 3rd ed., §6.4). No correction for
//! comparing many pairs is made: with k variants, about k(k−1)/2 × 5% of the "significant" pairs
//! may be chance.

/// Confidence of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// The paired difference a − b of one quantity over the seeds both ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDifference {
    /// Seeds both ran.
    pub n: usize,
    /// Mean of the differences.
    pub mean: f64,
    /// Their sample standard deviation (`None` with one seed).
    pub std: Option<f64>,
    /// The 95% confidence interval of the mean difference (`None` with one seed).
    pub interval: Option<(f64, f64)>,
    /// Two-sided p-value of "no difference" (`None` with one seed).
    pub p_value: Option<f64>,
}

impl PairedDifference {
    /// Whether the 95% interval excludes zero.
    pub fn significant(&self) -> bool {
        self.interval.is_some_and(|(low, high)| low > 0.0 || high < 0.0)
    }
}

/// The paired difference of `a` and `b` (the same seeds in the same order); `None` when empty
/// or when a value is not finite.
pub fn paired(a: &[f64], b: &[f64]) -> Option<PairedDifference> {
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = differences.len();
    if n == 0 || differences.iter().any(|d| !d.is_finite()) {
        return None;
    }
    let mean = differences.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(PairedDifference { n, mean, std: None, interval: None, p_value: None });
    }
    let std = (differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let error = std / (n as f64).sqrt();
    let dof = (n - 1) as f64;
    let half = t_quantile(0.5 + CONFIDENCE / 2.0, dof) * error;
    let p_value = if error > 0.0 {
        two_sided_p(mean / error, dof)
    } else if mean == 0.0 {
        1.0
    } else {
        0.0
    };
    Some(PairedDifference {
        n,
        mean,
        std: Some(std),
        interval: Some((mean - half, mean + half)),
        p_value: Some(p_value),
    })
}

/// P(|T_ν| ≥ |t|) for Student's t with ν degrees of freedom.
pub fn two_sided_p(t: f64, dof: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    regularized_beta(dof / (dof + t * t), dof / 2.0, 0.5)
}

/// P(T_ν ≤ t).
pub fn t_cdf(t: f64, dof: f64) -> f64 {
    let tail = two_sided_p(t, dof) / 2.0;
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The p-quantile of Student's t with ν degrees of freedom (0 < p < 1), by bisection on the
/// distribution function to the last bits of an f64.
pub fn t_quantile(p: f64, dof: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, dof);
    }
    let mut high = 1.0;
    while t_cdf(high, dof) < p {
        high *= 2.0;
    }
    let mut low = 0.0;
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            break;
        }
        if t_cdf(middle, dof) < p {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}

/// I_x(a, b), the regularized incomplete beta function, for 0 ≤ x ≤ 1 and a, b > 0.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let log_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The continued fraction converges fast for x < (a + 1)/(a + b + 2); use the symmetry
    // I_x(a, b) = 1 − I_{1−x}(b, a) otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        log_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - log_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of I_x(a, b) by the modified Lentz method (Numerical Recipes `betacf`).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distribution_function_matches_closed_forms() {
        // ν = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π.
        for t in [-3.0, -0.5, 0.0, 1.0, 7.0] {
            let expected = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!((t_cdf(t, 1.0) - expected).abs() < 1e-13, "t = {t}");
        }
        // ν = 2: F(t) = 1/2 + t / (2 √(2 + t²)).
        for t in [-4.0f64, -1.0, 0.3, 2.5] {
            let expected = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!((t_cdf(t, 2.0) - expected).abs() < 1e-13, "t = {t}");
        }
        // ln Γ at integers and at 1/2: ln((n−1)!) and ln √π.
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn quantiles_match_the_printed_tables() {
        // ν = 1 (Cauchy): t_p = tan(π(p − 1/2)).
        assert!((t_quantile(0.975, 1.0) - (0.475 * std::f64::consts::PI).tan()).abs() < 1e-9);
        // ν = 2: inverting F above, t_p = q √(2/(1 − q²)) with q = 2p − 1.
        let q: f64 = 0.95;
        assert!((t_quantile(0.975, 2.0) - q * (2.0 / (1.0 - q * q)).sqrt()).abs() < 1e-9);
        // The printed table (NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2), 3 decimals.
        for (dof, table) in [(4.0, 2.776), (9.0, 2.262), (29.0, 2.045), (100.0, 1.984)] {
            assert!((t_quantile(0.975, dof) - table).abs() < 5e-4, "ν = {dof}: {}", t_quantile(0.975, dof));
        }
        assert!((t_quantile(0.025, 4.0) + t_quantile(0.975, 4.0)).abs() < 1e-12);
    }

    #[test]
    fn a_paired_difference_by_hand() {
        // Differences 0.01, 0.02, 0.03: mean 0.02, s = 0.01, s/√3 = 0.0057735; ν = 2,
        // t_{0.975,2} = 4.302653 (closed form above): interval 0.02 ± 0.024841, which holds 0.
        let a = [0.11, 0.22, 0.33];
        let b = [0.10, 0.20, 0.30];
        let d = paired(&a, &b).unwrap();
        assert_eq!(d.n, 3);
        assert!((d.mean - 0.02).abs() < 1e-12);
        assert!((d.std.unwrap() - 0.01).abs() < 1e-12);
        let half = 4.302_652_729_749_464 * 0.01 / 3f64.sqrt();
        let (low, high) = d.interval.unwrap();
        assert!((low - (0.02 - half)).abs() < 1e-9 && (high - (0.02 + half)).abs() < 1e-9);
        assert!(!d.significant());
        // t = 0.02/0.0057735 = 3.4641 = 2√3; with ν = 2, p = 1 − 2√3/√(2 + 12) = 0.074180.
        let expected = 1.0 - 2.0 * 3f64.sqrt() / 14f64.sqrt();
        assert!((d.p_value.unwrap() - expected).abs() < 1e-12);
        // Identical differences: no spread, a certain difference.
        let d = paired(&[0.5, 0.75], &[0.25, 0.5]).unwrap();
        assert_eq!((d.interval, d.p_value), (Some((0.25, 0.25)), Some(0.0)));
        assert!(d.significant());
        // One seed: a difference, no interval.
        let d = paired(&[0.3], &[0.1]).unwrap();
        assert_eq!((d.std, d.interval, d.p_value), (None, None, None));
        assert_eq!(paired(&[], &[]), None);
    }
}
