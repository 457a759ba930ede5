//! The `gwx` binary as a newcomer uses it: `gwx init`, `gwx serve`, the
//! `gwx whoami` client, SIGHUP reload and `gwx log verify`.

mod common;

use std::process::{Child, Command};

const GWX: &str = env!("CARGO_BIN_EXE_gwx");

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn gwx(args: &[&str]) -> std::process::Output {
    Command::new(GWX).args(args).env_remove("GWX_DATABASE_URL").output().unwrap()
}

#[tokio::test]
async fn init_serve_whoami_reload_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();

    let out = gwx(&["init", "--dir", d]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("gwx serve --dir"), "{text}");
    for f in [
        "gwx.toml",
        "certs/ca.pem",
        "certs/crl.pem",
        "certs/hub.pem",
        "certs/hub.key",
        "clients/379130000C.pem",
        "clients/revoked.pem",
        "data/gwx.db",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    // A second init refuses to overwrite.
    let again = gwx(&["init", "--dir", d]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let (child, port) = common::spawn_serve(&dir, "127.0.0.1:0");
    let server = Serving(child);
    let hub = format!("https://localhost:{port}");

    let client = |code: &str| {
        Command::new(GWX)
            .args(["whoami", "--hub", &hub])
            .env("GWX_CERT", dir.join(format!("clients/{code}.pem")))
            .env("GWX_KEY", dir.join(format!("clients/{code}.key")))
            .env("GWX_CA", dir.join("certs/ca.pem"))
            .output()
            .unwrap()
    };
    let out = client("379130000C");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let who: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["participant"]["name"], "臺北市政府資訊局");
    assert!(who["roles"].as_array().unwrap().contains(&"it_bureau".into()));

    // Refusals reach the user in the hub's own words.
    let out = client("unregistered");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("憑證未註冊") && err.contains("urn:gwx:error:unknown-certificate"), "{err}");

    // SIGHUP reloads the trust store and says so in the exchange log.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    let operator = reqwest::Client::builder()
        .identity(
            reqwest::Identity::from_pkcs8_pem(&read("clients/379130000C.pem"), &read("clients/379130000C.key"))
                .unwrap(),
        )
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&read("certs/ca.pem")).unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let mut reloaded = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let log: serde_json::Value =
            operator.get(format!("{hub}/api/v1/log?action=trust.reloaded")).send().await.unwrap().json().await.unwrap();
        if log["items"].as_array().unwrap().iter().any(|e| e["detail"].as_str().unwrap().contains("SIGHUP")) {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "no SIGHUP reload entry in the log");
    drop(server);
    let out = gwx(&["log", "verify", "--dir", d]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("exchange log intact"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
