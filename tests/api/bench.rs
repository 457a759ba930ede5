//! The load generator runs end to end and reports every figure (tiny
//! numbers: this checks the tool, it measures nothing).

#[test]
fn gwx_bench_runs_every_scenario_and_reports_each_figure() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args([
            "bench",
            "--documents",
            "24",
            "--clients",
            "4",
            "--rate",
            "20",
            "--seconds",
            "1",
            "--lifecycle-rate",
            "10",
            "--warm-up-seconds",
            "1",
            "--large-mib",
            "3",
            "--large-packages",
            "2",
            "--large-parts",
            "3",
            "--fanout",
            "25",
            "--json",
        ])
        .env_remove("GWX_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["rsa_sign_per_s", "rsa_verify_per_s", "ecdsa_sign_per_s", "sha256_mib_per_s", "fsync_per_s"] {
        assert!(r["ceiling"][field].as_f64().unwrap() > 0.0, "{field}");
    }
    assert_eq!(r["throughput"]["submit"]["count"], 24);
    assert_eq!(r["throughput"]["failures"], 0);
    // Each counted document had a receipt that verified and named its envelope.
    assert_eq!(r["throughput"]["failures_by_cause"], serde_json::json!({}));
    assert_eq!(r["lifecycle"]["failures_by_cause"], serde_json::json!({}));
    assert!(r["throughput"]["hub_cpu_ms_per_document"].as_f64().is_some());
    assert_eq!(r["latency"]["failures"], 0);
    assert!(r["latency"]["inbox_to_confirm"].is_null());
    // The second at each rate before is not counted.
    assert_eq!(r["lifecycle"]["inbox_to_confirm"]["count"], 10 * 3);
    assert_eq!(r["latency"]["submit"]["count"], 20);
    assert_eq!(
        (r["latency"]["warm_up_seconds"].as_u64(), r["lifecycle"]["warm_up_seconds"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(r["large"]["hub_peak_above_idle_mib"].as_f64().is_some());
    assert_eq!((r["large"]["packages"].as_u64(), r["large"]["files_each"].as_u64()), (Some(2), Some(4)));
    assert_eq!(r["fanout"]["recipients"], 25);
    assert_eq!(r["fanout"]["attachment_stored_once"], true);
    assert_eq!(r["fanout"]["blob_files_stored"], 1);
    // Every delivery of the run is in the timeliness report (24 + 20 + 10
    // documents to 3 recipients and as many again to warm up, the two
    // large packages to one, and the fan-out), and the log exported.
    assert_eq!(r["audit"]["deliveries"], (24 + 2 * 20 + 2 * 10) * 3 + 2 + 25);
    assert!(r["audit"]["log_entries"].as_u64().unwrap() > (24 + 20 + 10) * 4);
}

#[test]
fn gwx_bench_year_seeds_a_year_and_measures_every_read_path() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["bench", "--scenarios", "year", "--year-participants", "12", "--year-deliveries", "5000"])
        .args(["--year-pending", "900", "--year-inbox", "300", "--json"])
        .env_remove("GWX_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let y = &r["year"];
    assert_eq!((y["documents"].as_u64(), y["deliveries"].as_u64()), (Some(1000), Some(5000)), "{y}");
    assert_eq!(y["inbox_pending"], 300, "{y}");
    // The secretariat's 300, and about 600 more in the other inboxes.
    let pending = y["pending"].as_u64().unwrap();
    assert!((800..=1100).contains(&pending), "{y}");
    assert_eq!(y["log_entries"], 1000 + 5000);
    assert!(y["startup_to_first_accept_s"].as_f64().unwrap() > 0.0);
    let paths = y["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 11, "{y}");
    for p in paths {
        assert_eq!(p["latency"]["count"], 100, "{p}");
    }
    assert!(y["log_csv_month_mib"].as_f64().unwrap() > 0.0, "{y}");
}

/// `--reference nginx` drives Debian's nginx (mTLS required, every upload
/// read) with the same client and packages, here over HTTP/2, and reports
/// its answers and CPU next to the hub's.
#[test]
fn gwx_bench_drives_nginx_as_the_reference_in_the_same_run() {
    if !std::path::Path::new("/usr/sbin/nginx").exists() {
        assert!(std::env::var_os("GWX_REQUIRE_NGINX").is_none(), "nginx is required (apt-get install nginx)");
        eprintln!("skipped: no nginx");
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gwx"))
        .args(["bench", "--scenarios", "throughput", "--documents", "12", "--clients", "3"])
        .args(["--http", "2", "--reference", "nginx", "--json"])
        .env_remove("GWX_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["http"], "Http2");
    let (gwx, nginx) = (&r["throughput"], &r["throughput"]["reference"]);
    assert_eq!((gwx["submit"]["count"].as_u64(), gwx["failures"].as_u64()), (Some(12), Some(0)));
    // nginx answered each upload 201 (it signs no receipt: a 201 is all it gives).
    assert_eq!((nginx["submit"]["count"].as_u64(), nginx["failures"].as_u64()), (Some(12), Some(0)));
    assert!(nginx["documents_per_s"].as_f64().unwrap() > 0.0);
    assert!(nginx["hub_cpu_ms_per_document"].as_f64().is_some(), "nginx's CPU: {nginx}");
}
