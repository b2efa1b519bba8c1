//! The statistics: every test of every pair of classes in one measurement.

use serde_json::{Value, json};

use super::classes::CLASSES;

/// The complementary error function (Numerical Recipes' erfcc; relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p-value of a standard normal statistic.
fn p_normal(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { 1.0 } else { 0.0 };
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0);
    (m, v)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - pos.floor())
}

/// Average ranks (1-based) of `v`, and the tie term Σ(t³ - t).
fn ranks(v: &[f64]) -> (Vec<f64>, f64) {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut r = vec![0.0; v.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (r, ties)
}

/// Welch's t-test (large samples: the t distribution is taken as normal).
fn welch(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let se = (va / a.len() as f64 + vb / b.len() as f64).sqrt();
    let d = ma - mb;
    (d, 1.96 * se, p_normal(d / se))
}

fn mann_whitney(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let all: Vec<f64> = a.iter().chain(b).copied().collect();
    let (r, ties) = ranks(&all);
    let r1: f64 = r[..a.len()].iter().sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    p_normal((u - n1 * n2 / 2.0) / var.sqrt())
}

fn kolmogorov_smirnov(sa: &[f64], sb: &[f64]) -> (f64, f64) {
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    let (na, nb) = (sa.len() as f64, sb.len() as f64);
    while i < sa.len() && j < sb.len() {
        let x = sa[i].min(sb[j]);
        while i < sa.len() && sa[i] <= x {
            i += 1;
        }
        while j < sb.len() && sb[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    let ne = (na * nb / (na + nb)).sqrt();
    let lambda = (ne + 0.12 + 0.11 / ne) * d;
    let mut p = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = 2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp();
        p += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    (d, p.clamp(0.0, 1.0))
}

/// The sign test and the Wilcoxon signed-rank test on paired differences `d`, and the
/// distribution-free 95% confidence interval of their median (order statistics of the sign
/// test).
fn paired(d: &[f64]) -> (f64, f64, f64, f64, f64) {
    let nz: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
    let n = nz.len() as f64;
    let pos = nz.iter().filter(|x| **x > 0.0).count() as f64;
    let p_sign = p_normal((pos - n / 2.0) / (n / 4.0).sqrt());
    let abs: Vec<f64> = nz.iter().map(|x| x.abs()).collect();
    let (r, ties) = ranks(&abs);
    let w: f64 = r
        .iter()
        .zip(&nz)
        .filter(|(_, x)| **x > 0.0)
        .map(|(r, _)| r)
        .sum();
    let var = n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - ties / 48.0;
    let p_wilcoxon = p_normal((w - n * (n + 1.0) / 4.0) / var.sqrt());
    let mut s = d.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() as f64;
    let k = ((m / 2.0 - 1.96 * m.sqrt() / 2.0).floor().max(0.0)) as usize;
    let lo = s[k.min(s.len() - 1)];
    let hi = s[(s.len() - 1).saturating_sub(k)];
    (p_sign, p_wilcoxon, quantile(&s, 0.5), lo, hi)
}

/// The box test (Crosby, Wallach and Riedi, 2009): the boxes between the 5th and 10th
/// percentiles of the two classes; disjoint boxes mean one is faster.
fn box_test(sa: &[f64], sb: &[f64]) -> &'static str {
    let (a0, a1) = (quantile(sa, 0.05), quantile(sa, 0.10));
    let (b0, b1) = (quantile(sb, 0.05), quantile(sb, 0.10));
    if a1 < b0 {
        "a faster"
    } else if b1 < a0 {
        "b faster"
    } else {
        "overlap"
    }
}

/// Every statistic of one measurement, as JSON (times in microseconds).
pub(super) fn analyse(samples: &[Vec<u64>], ok: &[usize]) -> Value {
    let us: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| s.iter().map(|ns| *ns as f64 / 1000.0).collect())
        .collect();
    let sorted: Vec<Vec<f64>> = us
        .iter()
        .map(|s| {
            let mut v = s.clone();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let classes: Vec<Value> = CLASSES
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (m, v) = mean_var(&us[i]);
            let s = &sorted[i];
            json!({
                "class": c.name(),
                "n": s.len(),
                "decrypted": ok[i],
                "mean_us": m,
                "sd_us": v.sqrt(),
                "p05_us": quantile(s, 0.05),
                "p25_us": quantile(s, 0.25),
                "median_us": quantile(s, 0.5),
                "p75_us": quantile(s, 0.75),
                "p99_us": quantile(s, 0.99),
            })
        })
        .collect();
    let npairs = CLASSES.len() * (CLASSES.len() - 1) / 2;
    let mut pairs = Vec::new();
    for a in 0..CLASSES.len() {
        for b in a + 1..CLASSES.len() {
            let (dmean, dmean_ci, p_welch) = welch(&us[a], &us[b]);
            let p_mwu = mann_whitney(&us[a], &us[b]);
            let (ks_d, p_ks) = kolmogorov_smirnov(&sorted[a], &sorted[b]);
            let diffs: Vec<f64> = us[a].iter().zip(&us[b]).map(|(x, y)| x - y).collect();
            let (p_sign, p_wilcoxon, dmed, lo, hi) = paired(&diffs);
            let min_p = [p_welch, p_mwu, p_ks, p_sign, p_wilcoxon]
                .into_iter()
                .fold(1.0f64, f64::min);
            let both_refused = ok[a] == 0 && ok[b] == 0;
            // Bonferroni over the pairs and the five tests.
            let significant = min_p * ((npairs * 5) as f64) < 0.05;
            pairs.push(json!({
                "a": CLASSES[a].name(),
                "b": CLASSES[b].name(),
                "both_refused": both_refused,
                "mean_diff_us": dmean,
                "mean_diff_ci95_us": dmean_ci,
                "median_paired_diff_us": dmed,
                "median_paired_diff_ci95_us": [lo, hi],
                "p_welch": p_welch,
                "p_mann_whitney": p_mwu,
                "ks_d": ks_d,
                "p_ks": p_ks,
                "p_sign": p_sign,
                "p_wilcoxon": p_wilcoxon,
                "box_p05_p10": box_test(&sorted[a], &sorted[b]),
                "significant": significant,
            }));
        }
    }
    json!({"classes": classes, "pairs": pairs})
}

#[cfg(test)]
mod tests {
    use super::super::classes::Rng;
    use super::*;

    #[test]
    fn statistics_see_a_shift_and_not_noise() {
        let mut rng = Rng(42);
        let a: Vec<f64> = (0..2000).map(|_| (rng.next() % 1000) as f64).collect();
        let b: Vec<f64> = (0..2000).map(|_| (rng.next() % 1000) as f64).collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + 300.0).collect();
        assert!(mann_whitney(&a, &shifted) < 1e-10);
        assert!(welch(&a, &shifted).2 < 1e-10);
        let (mut sa, mut sb) = (a.clone(), shifted.clone());
        sa.sort_by(f64::total_cmp);
        sb.sort_by(f64::total_cmp);
        assert!(kolmogorov_smirnov(&sa, &sb).1 < 1e-10);
        // Differences symmetric about zero: no test may see a shift; shifted, all must.
        let d: Vec<f64> = a.iter().flat_map(|x| [x - 500.0, 500.0 - x]).collect();
        let (ps, pw, med, lo, hi) = paired(&d);
        assert!(ps > 0.99 && pw > 0.99 && med == 0.0 && lo < 0.0 && hi > 0.0);
        let d: Vec<f64> = d.iter().map(|x| x + 100.0).collect();
        let (ps, pw, med, lo, hi) = paired(&d);
        assert!(ps < 1e-10 && pw < 1e-10 && med == 100.0 && lo > 50.0 && hi < 150.0);
        assert!(mann_whitney(&a, &b) > 1e-3 && welch(&a, &b).2 > 1e-3);
        assert!((erfc(0.0) - 1.0).abs() < 1e-6 && (p_normal(1.96) - 0.05).abs() < 1e-3);
    }
}
