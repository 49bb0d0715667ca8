use super::*;

/// splitmix64: a small deterministic generator for property tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn check_quantiles(data: &[f64], what: &str) {
    let mut s = Sketch::new();
    for &v in data {
        s.insert(v);
    }
    let mut sorted = data.to_vec();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(s.count(), data.len() as u64, "{what}: count exact");
    assert_eq!(s.min(), sorted[0]);
    assert_eq!(s.max(), sorted[sorted.len() - 1]);
    let exact_sum: f64 = data.iter().sum();
    assert!((s.sum() - exact_sum).abs() <= 1e-9 * exact_sum.abs().max(1.0));
    for q in [0.5, 0.9, 0.99, 0.999] {
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let est = s.quantile(q).unwrap();
        let err = if exact == 0.0 {
            est.abs()
        } else {
            ((est - exact) / exact).abs()
        };
        assert!(
            err <= 0.01,
            "{what}: p{q} est {est} exact {exact} err {err}"
        );
    }
}

#[test]
fn quantiles_within_one_percent_on_random_data() {
    let mut rng = Rng(7);
    for trial in 0..40 {
        let n = 100 + (rng.next() % 20_000) as usize;
        let (lo, hi) = (rng.unit() * 100.0, 100.0 + rng.unit() * 1e6);
        let uniform: Vec<f64> = (0..n).map(|_| lo + rng.unit() * (hi - lo)).collect();
        check_quantiles(&uniform, &format!("uniform #{trial}"));
        let (mu, sigma) = (rng.unit() * 5.0 - 2.0, 0.2 + rng.unit() * 2.0);
        let lognormal: Vec<f64> = (0..n).map(|_| (mu + sigma * rng.normal()).exp()).collect();
        check_quantiles(&lognormal, &format!("lognormal #{trial}"));
        let mixed: Vec<f64> = (0..n)
            .map(|_| match rng.next() % 4 {
                0 => 0.0,
                1 => -(rng.normal() * 3.0).exp(),
                _ => (rng.normal() * 3.0).exp(),
            })
            .collect();
        check_quantiles(&mixed, &format!("mixed #{trial}"));
    }
}

#[test]
fn merge_is_associative_and_counts_exact() {
    let mut rng = Rng(11);
    let parts: Vec<Vec<f64>> = (0..3)
        .map(|_| {
            (0..5000)
                .map(|_| {
                    (rng.normal() * 4.0).exp()
                        * if rng.next().is_multiple_of(5) {
                            -1.0
                        } else {
                            1.0
                        }
                })
                .collect()
        })
        .collect();
    let sk = |d: &[f64]| {
        let mut s = Sketch::new();
        d.iter().for_each(|v| s.insert(*v));
        s
    };
    let (a, b, c) = (sk(&parts[0]), sk(&parts[1]), sk(&parts[2]));
    let mut left = a.clone();
    left.merge(&b);
    left.merge(&c);
    let mut bc = b.clone();
    bc.merge(&c);
    let mut right = a.clone();
    right.merge(&bc);
    assert_eq!(left.bins(), right.bins());
    assert_eq!(
        (left.count(), left.min(), left.max()),
        (right.count(), right.min(), right.max())
    );
    assert_eq!(left.count(), 15_000);
    let all: Vec<f64> = parts.concat();
    assert_eq!(
        left.bins(),
        sk(&all).bins(),
        "merging equals inserting everything"
    );
}

#[test]
fn keys_match_the_agent_mapping() {
    assert_eq!(key(1e-9), 1);
    assert_eq!(key(0.0), 0);
    assert_eq!(key(1e-10), 0);
    assert_eq!(key(1.0), 1338);
    assert_eq!(key(-1.0), -1338);
    assert_eq!(key(GAMMA), 1339);
    assert_eq!(key(f64::MAX), i16::MAX as i32);
}

#[test]
fn full_bins_spill_and_bin_count_is_capped() {
    let mut s = Sketch::new();
    s.insert_n(5.0, 200_000);
    assert_eq!(s.bins().len(), 4);
    assert!(s.bins().iter().all(|(k, _)| *k == key(5.0)));
    assert_eq!(
        s.bins().iter().map(|(_, n)| u64::from(*n)).sum::<u64>(),
        200_000
    );
    let mut wide = Sketch::new();
    for i in 0..10_000 {
        wide.insert(GAMMA.powi(i - 5000));
    }
    assert!(wide.bins().len() <= BIN_LIMIT);
    assert_eq!(
        wide.bins().iter().map(|(_, n)| u64::from(*n)).sum::<u64>(),
        10_000
    );
    let p99 = wide.quantile(0.99).unwrap();
    let exact = GAMMA.powi(9899 - 5000);
    assert!(
        ((p99 - exact) / exact).abs() < 0.01,
        "high quantiles survive collapsing"
    );
}
