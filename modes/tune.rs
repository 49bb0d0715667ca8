//! `tandem-tune`'s model, shared with the on-demand controller (which reports, at SHUTDOWN, what
//! it would recommend for the traffic it saw): workloads, the environment model running the
//! real flush planner, and the per-strategy report. The command line and the HTML page are the
//! `tandem-tune` binary's (`modes/tune/main.rs`). Pure: no I/O.

pub mod model;
pub mod report;
pub mod traffic;
pub mod workload;

/// Shell sort (Ciura's gaps): a few dozen bytes of code where the standard library's sorts,
/// unrolled for each element type, cost the Lambda binary ~20 KiB each (this runs once per
/// SHUTDOWN there, and on at most a day of invocations in `tandem-tune`).
pub fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    const GAPS: [usize; 8] = [701, 301, 132, 57, 23, 10, 4, 1];
    let extra = std::iter::successors(Some(1577usize), |g| g.checked_mul(9).map(|x| x / 4))
        .take_while(|g| *g < v.len())
        .collect::<Vec<_>>();
    for &gap in extra.iter().rev().chain(GAPS.iter()) {
        for i in gap..v.len() {
            let mut j = i;
            while j >= gap && less(&v[j], &v[j - gap]) {
                v.swap(j, j - gap);
                j -= gap;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_sort_sorts() {
        let mut v: Vec<u64> = (0..5_000u64).map(|i| (i * 7_919) % 5_003).collect();
        let mut w = v.clone();
        super::sort_by(&mut v, |a, b| a < b);
        w.sort_unstable();
        assert_eq!(v, w);
        let mut e: Vec<f64> = Vec::new();
        super::sort_by(&mut e, |a, b| a < b);
    }
}
