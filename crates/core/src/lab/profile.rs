//! Performance profiles (Dolan & Moré 2002) and AlgoPerf's integrated score: how an optimizer fares
//! *across* problems, measured by how long it takes to reach each problem's target.
//!
//! For problems p ∈ P and optimizers s ∈ S, let t_{p,s} be the time s needs to reach the target of
//! p (+∞ when it does not reach it within the budget). The **performance ratio** is
//!
//! ```text
//! r_{p,s} = t_{p,s} / min_{s'} t_{p,s'}        (+∞ when t_{p,s} = +∞, and for every s when nobody
//!                                                reaches the target of p)
//! ```
//!
//! and the **performance profile** of s is the fraction of problems it solves within τ times the
//! best optimizer's time:
//!
//! ```text
//! ρ_s(τ) = |{p ∈ P : r_{p,s} ≤ τ}| / |P|,      τ ≥ 1
//! ```
//!
//! (E. D. Dolan and J. J. Moré, *Benchmarking optimization software with performance profiles*,
//! Mathematical Programming 91 (2002), 201–213, eqs. 1–2.) ρ_s(1) is the fraction of problems on
//! which s is fastest (ties count for every tied optimizer); ρ_s(τ) for large τ, the fraction it
//! solves at all.
//!
//! The **score** integrates the profile up to τ_max and normalizes it, as AlgoPerf scores training
//! algorithms (G. E. Dahl et al., *Benchmarking Neural Network Training Algorithms*, 2023, §4.5,
//! with τ_max = r_max = 4):
//!
//! ```text
//! B_s = 1/(τ_max − 1) ∫₁^τ_max ρ_s(τ) dτ  =  1/|P| Σ_p max(0, τ_max − r_{p,s}) / (τ_max − 1)
//! ```
//!
//! The second form follows because each problem adds 1/|P| to ρ_s on [r_{p,s}, ∞): the integral is
//! exact, with no grid over τ. B_s = 1 means fastest on every problem; 0 means never within 4× the
//! best (or never reaching the target). A problem nobody solves lowers every score alike.

/// τ_max of AlgoPerf's score: a problem solved in more than 4× the best time earns nothing.
pub const TAU_MAX: f64 = 4.0;

/// The performance ratios r_{p,s} of a table of times (`times[p][s]`, +∞ for "not reached").
/// Every row must have one time per optimizer; times are positive.
pub fn ratios(times: &[Vec<f64>]) -> Vec<Vec<f64>> {
    times
        .iter()
        .map(|row| {
            let best = row.iter().copied().fold(f64::INFINITY, f64::min);
            row.iter()
                .map(|&time| match () {
                    _ if !time.is_finite() || !best.is_finite() => f64::INFINITY,
                    _ if time == best => 1.0,
                    _ => time / best,
                })
                .collect()
        })
        .collect()
}

/// ρ_s(τ) for optimizer `s` (a column of `ratios`): the fraction of problems with r_{p,s} ≤ τ.
/// Zero when there are no problems.
pub fn profile_at(ratios: &[Vec<f64>], s: usize, tau: f64) -> f64 {
    if ratios.is_empty() {
        return 0.0;
    }
    ratios.iter().filter(|row| row[s] <= tau).count() as f64 / ratios.len() as f64
}

/// The corners of ρ_s as a step function on [1, `tau_max`]: (τ, ρ_s(τ)) at τ = 1, at every ratio
/// in between where the profile rises, and at `tau_max`.
pub fn profile_steps(ratios: &[Vec<f64>], s: usize, tau_max: f64) -> Vec<(f64, f64)> {
    let mut taus: Vec<f64> = ratios.iter().map(|row| row[s]).filter(|r| *r > 1.0 && *r <= tau_max).collect();
    taus.sort_by(f64::total_cmp);
    taus.dedup();
    let mut steps = vec![(1.0, profile_at(ratios, s, 1.0))];
    steps.extend(taus.into_iter().map(|tau| (tau, profile_at(ratios, s, tau))));
    if steps.last().is_some_and(|(tau, _)| *tau < tau_max) {
        steps.push((tau_max, profile_at(ratios, s, tau_max)));
    }
    steps
}

/// AlgoPerf's score B_s of optimizer `s`: ρ_s integrated over [1, `tau_max`], divided by
/// `tau_max` − 1 (exactly: the mean over problems of max(0, τ_max − r) / (τ_max − 1)).
pub fn score(ratios: &[Vec<f64>], s: usize, tau_max: f64) -> f64 {
    if ratios.is_empty() {
        return 0.0;
    }
    let total: f64 = ratios.iter().map(|row| (tau_max - row[s]).max(0.0) / (tau_max - 1.0)).sum();
    total / ratios.len() as f64
}

/// The median of `values` (+∞ counts as a value: the median is +∞ when half or more of an odd
/// count are, and for an even count the mean of the middle two). `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    /// Three optimizers on four problems, times in updates (hand-made):
    ///   p1: a 100, b 200, c 400      the usual spread
    ///   p2: a 300, b 300, c ∞        a tie for first; c never reaches the target
    ///   p3: a ∞,   b ∞,   c ∞        nobody reaches the target
    ///   p4: a 500, b 100, c 150
    fn table() -> Vec<Vec<f64>> {
        vec![vec![100.0, 200.0, 400.0], vec![300.0, 300.0, INF], vec![INF, INF, INF], vec![500.0, 100.0, 150.0]]
    }

    #[test]
    fn ratios_divide_by_the_best_time_and_keep_not_reached_infinite() {
        let r = ratios(&table());
        assert_eq!(r[0], vec![1.0, 2.0, 4.0]);
        assert_eq!(r[1], vec![1.0, 1.0, INF]); // the tie: both first
        assert_eq!(r[2], vec![INF, INF, INF]); // nobody: no best time to divide by
        assert_eq!(r[3], vec![5.0, 1.0, 1.5]);
    }

    #[test]
    fn the_profile_counts_problems_within_tau_of_the_best() {
        let r = ratios(&table());
        // ρ_a: ratios 1, 1, ∞, 5.
        assert_eq!(profile_at(&r, 0, 1.0), 0.5);
        assert_eq!(profile_at(&r, 0, 4.99), 0.5);
        assert_eq!(profile_at(&r, 0, 5.0), 0.75);
        // ρ_b: ratios 2, 1, ∞, 1.
        assert_eq!(profile_at(&r, 1, 1.0), 0.5);
        assert_eq!(profile_at(&r, 1, 2.0), 0.75);
        // ρ_c: ratios 4, ∞, ∞, 1.5; never above 1/2: two problems it never solves.
        assert_eq!(profile_at(&r, 2, 1.0), 0.0);
        assert_eq!(profile_at(&r, 2, 1e9), 0.5);
        assert_eq!(profile_steps(&r, 2, TAU_MAX), vec![(1.0, 0.0), (1.5, 0.25), (4.0, 0.5)]);
        assert_eq!(profile_steps(&r, 0, TAU_MAX), vec![(1.0, 0.5), (4.0, 0.5)]);
    }

    #[test]
    fn scores_integrate_the_profile_up_to_four() {
        let r = ratios(&table());
        // B_a = ¼ [(4−1)/3 + (4−1)/3 + 0 + 0] = 0.5 (5 > 4 earns nothing).
        assert!((score(&r, 0, TAU_MAX) - 0.5).abs() < 1e-15);
        // B_b = ¼ [(4−2)/3 + 1 + 0 + 1] = ¼ · 8/3 = 2/3.
        assert!((score(&r, 1, TAU_MAX) - 2.0 / 3.0).abs() < 1e-15);
        // B_c = ¼ [(4−4)/3 + 0 + 0 + (4−1.5)/3] = ¼ · 2.5/3 = 5/24.
        assert!((score(&r, 2, TAU_MAX) - 5.0 / 24.0).abs() < 1e-15);
        // The closed form against a midpoint sum of ρ over [1, 4] (1.2 million slices).
        for s in 0..3 {
            let n = 1_200_000;
            let h = (TAU_MAX - 1.0) / n as f64;
            let integral: f64 = (0..n).map(|i| profile_at(&r, s, 1.0 + (i as f64 + 0.5) * h) * h).sum();
            assert!((integral / (TAU_MAX - 1.0) - score(&r, s, TAU_MAX)).abs() < 1e-5, "optimizer {s}");
        }
    }

    #[test]
    fn a_single_optimizer_is_the_best_wherever_it_arrives() {
        let r = ratios(&[vec![700.0], vec![INF], vec![20.0]]);
        assert_eq!(r, vec![vec![1.0], vec![INF], vec![1.0]]);
        assert!((score(&r, 0, TAU_MAX) - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(profile_steps(&r, 0, TAU_MAX), vec![(1.0, 2.0 / 3.0), (4.0, 2.0 / 3.0)]);
        // No problems: nothing solved, nothing scored.
        assert_eq!((score(&[], 0, TAU_MAX), profile_at(&[], 0, 2.0)), (0.0, 0.0));
    }

    #[test]
    fn medians_count_not_reached_as_infinite() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
        assert_eq!(median(&[INF, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[INF, INF, 2.0]), Some(INF));
        assert_eq!(median(&[INF, 2.0]), Some(INF));
        assert_eq!(median(&[]), None);
    }
}
