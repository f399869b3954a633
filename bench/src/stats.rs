//! Median and range of a figure measured over repeated runs.

/// Median and min–max of the runs' values of one figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Summary {
    /// None when no run produced the figure.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[v.len() - 1],
            runs: v.len(),
        })
    }

    /// "29.76 (29.70–29.77)", or the single value of a single run.
    pub fn show(&self, decimals: usize) -> String {
        let f = |x: f64| format!("{x:.decimals$}");
        if self.runs == 1 || (self.min == self.max) {
            f(self.median)
        } else {
            format!("{} ({}–{})", f(self.median), f(self.min), f(self.max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.show(1), "2.0 (1.0–3.0)");
        assert_eq!(Summary::of(&[1.0, 4.0]).unwrap().median, 2.5);
        assert_eq!(Summary::of(&[5.0]).unwrap().show(0), "5");
        assert!(Summary::of(&[f64::NAN]).is_none());
    }
}
