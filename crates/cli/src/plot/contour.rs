//! Contour lines by marching squares over a sampled grid.

/// f sampled on an `nx × ny` grid over a rectangle.
pub struct Grid {
    /// x of each column.
    pub xs: Vec<f64>,
    /// y of each row.
    pub ys: Vec<f64>,
    /// values[row][column].
    pub values: Vec<Vec<f64>>,
}

impl Grid {
    /// Samples `f` on `nx × ny` points spanning `x` and `y`.
    pub fn sample(f: impl Fn(f64, f64) -> f64, x: (f64, f64), y: (f64, f64), nx: usize, ny: usize) -> Self {
        let span =
            |(a, b): (f64, f64), n: usize| (0..n).map(|i| a + (b - a) * i as f64 / (n - 1) as f64).collect::<Vec<_>>();
        let (xs, ys) = (span(x, nx), span(y, ny));
        let values = ys.iter().map(|&y| xs.iter().map(|&x| f(x, y)).collect()).collect();
        Grid { xs, ys, values }
    }

    /// `count` levels spaced evenly in log(f − f_min) between the grid's smallest and largest
    /// finite values, so that both the floor of a valley and its walls get lines.
    pub fn log_levels(&self, count: usize) -> Vec<f64> {
        let finite = self.values.iter().flatten().copied().filter(|v| v.is_finite());
        let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if high <= low || !high.is_finite() {
            return Vec::new();
        }
        let range = high - low;
        let (first, last) = ((range * 1e-4).ln(), (range * 0.9).ln());
        (0..count).map(|i| low + (first + (last - first) * i as f64 / (count - 1).max(1) as f64).exp()).collect()
    }

    /// Line segments where f crosses `level`.
    pub fn contour(&self, level: f64) -> Vec<[(f64, f64); 2]> {
        let mut segments = Vec::new();
        for row in 0..self.ys.len() - 1 {
            for column in 0..self.xs.len() - 1 {
                let corners = [
                    (self.xs[column], self.ys[row], self.values[row][column]),
                    (self.xs[column + 1], self.ys[row], self.values[row][column + 1]),
                    (self.xs[column + 1], self.ys[row + 1], self.values[row + 1][column + 1]),
                    (self.xs[column], self.ys[row + 1], self.values[row + 1][column]),
                ];
                if corners.iter().any(|c| !c.2.is_finite()) {
                    continue;
                }
                // Where the level crosses each edge (i → i+1) of the cell, if it does.
                let crossings: Vec<(f64, f64)> = (0..4)
                    .filter_map(|i| {
                        let (a, b) = (corners[i], corners[(i + 1) % 4]);
                        if (a.2 < level) == (b.2 < level) {
                            return None;
                        }
                        let t = (level - a.2) / (b.2 - a.2);
                        Some((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
                    })
                    .collect();
                match crossings.len() {
                    2 => segments.push([crossings[0], crossings[1]]),
                    4 => {
                        // A saddle cell: pair the crossings by the value at the centre.
                        let centre = corners.iter().map(|c| c.2).sum::<f64>() / 4.0;
                        if (centre < level) == (corners[0].2 < level) {
                            segments.push([crossings[0], crossings[3]]);
                            segments.push([crossings[1], crossings[2]]);
                        } else {
                            segments.push([crossings[0], crossings[1]]);
                            segments.push([crossings[2], crossings[3]]);
                        }
                    }
                    _ => {}
                }
            }
        }
        segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_contour_lies_on_the_circle() {
        // f = x² + y², level 1: every crossing point is within a cell's interpolation error of r = 1.
        let grid = Grid::sample(|x, y| x * x + y * y, (-2.0, 2.0), (-2.0, 2.0), 81, 81);
        let segments = grid.contour(1.0);
        assert!(segments.len() > 50);
        for [(x0, y0), (x1, y1)] in segments {
            for (x, y) in [(x0, y0), (x1, y1)] {
                assert!(((x * x + y * y).sqrt() - 1.0).abs() < 2e-3);
            }
        }
    }

    #[test]
    fn levels_are_increasing_and_inside_the_range() {
        let grid = Grid::sample(|x, y| x * x - y * y, (-1.0, 1.0), (-1.0, 1.0), 11, 11);
        let levels = grid.log_levels(10);
        assert!(levels.windows(2).all(|w| w[0] < w[1]));
        assert!(levels[0] > -1.0 && levels[9] < 1.0);
    }
}
