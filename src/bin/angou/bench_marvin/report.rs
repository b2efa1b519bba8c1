//! The report: raw samples as CSV, and the tables printed for a reader.

use serde_json::Value;

use super::classes::CLASSES;
use crate::failure::Failure;

pub(super) fn write_csv(dir: &std::path::Path, samples: &[Vec<u64>]) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::new(format!("bench: cannot make {}: {e}", dir.display())))?;
    let mut out = CLASSES
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in 0..samples[0].len() {
        let row: Vec<String> = samples
            .iter()
            .map(|s| format!("{:.9e}", s[r] as f64 / 1e9))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    let path = dir.join("timing.csv");
    std::fs::write(&path, out)
        .map_err(|e| Failure::new(format!("bench: cannot write {}: {e}", path.display())))
}

pub(super) fn print_report(r: &Value) {
    println!(
        "Marvin timing study: RSA-{} OAEP-SHA-256, {} rounds over the server, {} in process ({} build; {} CPUs; load average {} before, {} after)",
        r["bits"],
        r["rounds"],
        r["in_process_rounds"],
        r["build"].as_str().unwrap_or("?"),
        r["cpus"],
        r["loadavg_before"],
        r["loadavg_after"]
    );
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for run in r["runs"].as_array().into_iter().flatten() {
        println!();
        println!("== {}", run["measurement"].as_str().unwrap_or("?"));
        if let Some(s) = run.get("server") {
            println!("   server: {}", s.as_str().unwrap_or("?"));
        }
        println!(
            "{:<20} {:>8} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "class",
            "n",
            "decrypted",
            "mean µs",
            "sd µs",
            "p05 µs",
            "median µs",
            "IQR µs",
            "p99 µs"
        );
        for c in run["classes"].as_array().into_iter().flatten() {
            println!(
                "{:<20} {:>8} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                c["class"].as_str().unwrap_or("?"),
                c["n"],
                c["decrypted"],
                f(&c["mean_us"]),
                f(&c["sd_us"]),
                f(&c["p05_us"]),
                f(&c["median_us"]),
                f(&c["p75_us"]) - f(&c["p25_us"]),
                f(&c["p99_us"]),
            );
        }
        println!(
            "{:<41} {:>8} {:>21} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "pair (a - b)",
            "Δmed µs",
            "95% CI µs",
            "Welch p",
            "MWU p",
            "KS p",
            "sign p",
            "Wilc. p",
            "box",
        );
        for p in run["pairs"].as_array().into_iter().flatten() {
            let ci = &p["median_paired_diff_ci95_us"];
            println!(
                "{:<41} {:>8.2} {:>21} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>8} {}",
                format!(
                    "{} - {}",
                    p["a"].as_str().unwrap_or("?"),
                    p["b"].as_str().unwrap_or("?")
                ),
                f(&p["median_paired_diff_us"]),
                format!("[{:.2}, {:.2}]", f(&ci[0]), f(&ci[1])),
                f(&p["p_welch"]),
                f(&p["p_mann_whitney"]),
                f(&p["p_ks"]),
                f(&p["p_sign"]),
                f(&p["p_wilcoxon"]),
                p["box_p05_p10"].as_str().unwrap_or("?"),
                if p["significant"].as_bool() == Some(true) {
                    "DIFFERENT"
                } else {
                    ""
                }
            );
        }
        if let Some(errs) = run["distinct_error_answers"].as_array() {
            println!("distinct error answers: {}", errs.len());
            for e in errs {
                println!("  {}", e.as_str().unwrap_or("?"));
            }
        }
    }
    println!();
    println!(
        "A pair is marked DIFFERENT when one of its tests' p-values is below 0.05 after Bonferroni correction (21 pairs × 5 tests); Δmed is the median of the paired differences and its 95% CI bounds the smallest difference this run could have seen."
    );
    println!(
        "Valid and refused ciphertexts get different answers (a plaintext or InvalidCiphertextException), so a difference between them is expected and tells an attacker nothing the answer does not; what matters is any difference among refused classes."
    );
}
