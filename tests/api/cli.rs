//! The `gwx` binary as a newcomer uses it: `gwx init`, `gwx serve`, the
//! `gwx whoami` client, SIGHUP reload and `gwx log verify`.

use std::path::PathBuf;
use std::process::{Child, Command};

use crate::helpers::spawn_serve;

const GWX: &str = env!("CARGO_BIN_EXE_gwx");

fn gwx(args: &[&str]) -> std::process::Output {
    Command::new(GWX).args(args).env_remove("GWX_DATABASE_URL").output().unwrap()
}

/// A demo made by `gwx init` and run by `gwx serve`; killed when dropped.
struct Served {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    child: Child,
    hub: String,
}

impl Served {
    fn start() -> Served {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let out = gwx(&["init", "--dir", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (child, port) = spawn_serve(&dir, "127.0.0.1:0");
        Served { _tmp: tmp, dir, child, hub: format!("https://localhost:{port}") }
    }

    /// `gwx whoami [ARGS]` as the demo's `code`.
    fn whoami(&self, code: &str, args: &[&str]) -> std::process::Output {
        Command::new(GWX)
            .args(["whoami", "--hub", &self.hub])
            .args(args)
            .env("GWX_CERT", self.dir.join(format!("clients/{code}.pem")))
            .env("GWX_KEY", self.dir.join(format!("clients/{code}.key")))
            .env("GWX_CA", self.dir.join("certs/ca.pem"))
            .output()
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn gwx_init_creates_a_ready_demo_and_refuses_to_overwrite_it() {
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
    let again = gwx(&["init", "--dir", d]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
}

#[test]
fn gwx_whoami_asks_a_served_hub_and_shows_refusals_in_its_words() {
    let served = Served::start();
    let out = served.whoami("379130000C", &["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let who: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["participant"]["name"], "臺北市政府資訊局");
    assert!(who["roles"].as_array().unwrap().contains(&"it_bureau".into()));
    // For a person: words, not codes, and the card's expiry in Taipei time.
    let out = served.whoami("379130000C", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("臺北市政府資訊局（379130000C）　機關，使用中\n"), "{text}");
    assert!(text.contains("角色：") && text.contains("資訊局") && !text.contains("it_bureau"), "{text}");
    assert!(text.contains("效期至 ") && text.contains("（臺北）"), "{text}");
    let out = served.whoami("unregistered", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("憑證未註冊") && err.contains("urn:gwx:error:unknown-certificate"), "{err}");
}

#[tokio::test]
async fn sighup_reloads_the_trust_store_and_the_log_still_verifies() {
    let served = Served::start();
    let pid = served.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let read = |p: &str| std::fs::read(served.dir.join(p)).unwrap();
    let operator = reqwest::Client::builder()
        .http1_only()
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
        let url = format!("{}/api/v1/log?action=trust.reloaded", served.hub);
        let log: serde_json::Value = operator.get(url).send().await.unwrap().json().await.unwrap();
        if log["items"].as_array().unwrap().iter().any(|e| e["detail"].as_str().unwrap().contains("SIGHUP")) {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "no SIGHUP reload entry in the log");
    let dir = served.dir.clone();
    drop(served);
    let out = gwx(&["log", "verify", "--dir", dir.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("exchange log intact"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
