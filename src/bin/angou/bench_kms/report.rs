//! The report: the printed table of rates, latencies, ratios, peak memory and notes.

use serde_json::Value;

pub(super) fn print_table(r: &Value) {
    println!(
        "angou kms serve under load ({} build; keep-alive clients, SigV4-signed requests; store in {})",
        r["build"].as_str().unwrap_or("?"),
        r["store"].as_str().unwrap_or("?")
    );
    println!(
        "{:<16} {:>7} │ {:>10} {:>8} {:>8} │ {:>10} {:>8} {:>8} │ {:>7}",
        "operation",
        "clients",
        "angou/s",
        "p50 ms",
        "p99 ms",
        "moto/s",
        "p50 ms",
        "p99 ms",
        "ratio"
    );
    let f = |v: &Value, k: &str, w: usize, prec: usize| -> String {
        v.get(k)
            .and_then(Value::as_f64)
            .map_or(format!("{:>w$}", "-"), |x| format!("{x:>w$.prec$}"))
    };
    for row in r["rows"].as_array().into_iter().flatten() {
        let (a, m) = (&row["angou"], &row["moto"]);
        println!(
            "{:<16} {:>7} │ {} {} {} │ {} {} {} │ {}",
            row["operation"].as_str().unwrap_or("?"),
            row["clients"].as_u64().unwrap_or(0),
            f(a, "requests_per_s", 10, 0),
            f(a, "p50_ms", 8, 2),
            f(a, "p99_ms", 8, 2),
            f(m, "requests_per_s", 10, 0),
            f(m, "p50_ms", 8, 2),
            f(m, "p99_ms", 8, 2),
            row.get("ratio")
                .and_then(Value::as_f64)
                .map_or(format!("{:>7}", "-"), |x| format!("{x:>6.1}×")),
        );
        let errs = a["errors"].as_u64().unwrap_or(0) + m["errors"].as_u64().unwrap_or(0);
        if errs > 0 {
            println!("  ({errs} requests failed and are not counted)");
        }
    }
    for (name, kib) in r["peak_rss_kib"].as_object().into_iter().flatten() {
        if let Some(k) = kib.as_u64() {
            println!(
                "peak RSS of {name}'s server (VmHWM): {:.1} MiB",
                k as f64 / 1024.0
            );
        }
    }
    for n in r["notes"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or_default());
    }
}
