//! A real S3-compatible object store for the tests: a single-node Garage
//! on loopback, started once per test binary with its own layout, key and
//! bucket; each test gets a prefix of its own in that bucket.
//!
//! The `garage` binary is `GWX_GARAGE`, else the one `.ci/run` installs
//! (`~/.cache/gwx-tools/bin/garage`), else `garage` on the `PATH`. Without
//! it the object-store variants are skipped, unless `GWX_REQUIRE_S3=1` (as
//! in CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use gwx::runtime::config::BlobsConfig;

pub const BUCKET: &str = "gwx-test";
/// Test credentials of the test Garage (never used elsewhere).
pub const KEY_ID: &str = "GK0123456789abcdef01234567";
pub const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub struct Garage {
    pub endpoint: String,
    _dir: PathBuf,
}

/// The `garage` binary, if this machine has one.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GWX_GARAGE") {
        return Some(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = Path::new(&home).join(".cache/gwx-tools/bin/garage");
        if p.is_file() {
            return Some(p);
        }
    }
    let found = Command::new("garage").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    found.is_ok_and(|s| s.success()).then(|| PathBuf::from("garage"))
}

/// The test Garage, started on first use; `None` (the test skips) when
/// there is no `garage` binary and it is not required.
pub fn garage() -> Option<&'static Garage> {
    static GARAGE: OnceLock<Option<Garage>> = OnceLock::new();
    GARAGE
        .get_or_init(|| match binary() {
            Some(bin) => Some(start(&bin)),
            None => {
                if std::env::var("GWX_REQUIRE_S3").as_deref() == Ok("1") {
                    panic!("GWX_REQUIRE_S3=1 but no garage binary: object-store tests would be skipped");
                }
                eprintln!("skipped: install garage (see .ci/run) to run the object-store variant");
                None
            }
        })
        .as_ref()
}

/// A prefix of its own in the test bucket, for one test.
pub fn blobs_config(garage: &Garage) -> BlobsConfig {
    BlobsConfig {
        url: Some(format!("s3://{BUCKET}/{}", uuid::Uuid::now_v7().simple())),
        endpoint: Some(garage.endpoint.clone()),
        region: Some("garage".into()),
        access_key_id: Some(KEY_ID.into()),
        secret_access_key: Some(SECRET.into()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(bin: &Path) -> Garage {
    // Those of test binaries that have ended go (their servers went with them).
    for e in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("gwx-test-garage-").and_then(|p| p.parse::<u32>().ok())
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let dir = std::env::temp_dir().join(format!("gwx-test-garage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (rpc, s3) = (free_port(), free_port());
    let config = dir.join("garage.toml");
    std::fs::write(
        &config,
        format!(
            "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"lmdb\"\n\
             replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
             rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{SECRET}\"\n\
             [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
    // Started from a thread that waits on it for as long as the test binary
    // lives; the server goes with the binary (PR_SET_PDEATHSIG fires when
    // that thread ends).
    let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<u32>>();
    let (bin2, config2, log) = (bin.to_owned(), config.clone(), dir.join("garage.log"));
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let log = std::fs::File::create(log).unwrap();
        let mut cmd = Command::new(bin2);
        cmd.arg("-c").arg(&config2).arg("server").stdout(log.try_clone().unwrap()).stderr(log);
        // SAFETY: prctl is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(mut child) => {
                tx.send(Ok(child.id())).unwrap();
                let _ = child.wait();
            }
            Err(e) => tx.send(Err(e)).unwrap(),
        }
    });
    rx.recv().unwrap().expect("start garage");
    let cli = |args: &[&str]| -> Result<String, String> {
        let out = Command::new(bin).arg("-c").arg(&config).args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("garage {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    // Generous: the first object-store test starts it while hundreds of
    // others load the two cores.
    let log = dir.join("garage.log");
    let failed =
        |what: String| -> ! { panic!("{what}\ngarage's log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()) };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let node = loop {
        match cli(&["node", "id", "-q"]) {
            Ok(node) => break node,
            Err(e) if std::time::Instant::now() > deadline => failed(format!("garage did not start: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let id = node.trim().split('@').next().unwrap().to_owned();
    for step in [
        &["layout", "assign", "-z", "dc1", "-c", "1G", &id][..],
        &["layout", "apply", "--version", "1"],
        &["key", "import", "--yes", "-n", "gwx-test", KEY_ID, SECRET],
        &["bucket", "create", BUCKET],
        &["bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", KEY_ID],
    ] {
        cli(step).unwrap_or_else(|e| failed(e));
    }
    while std::net::TcpStream::connect(("127.0.0.1", s3)).is_err() {
        if std::time::Instant::now() > deadline {
            failed(format!("garage's S3 API did not open on port {s3}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Garage { endpoint: format!("http://127.0.0.1:{s3}"), _dir: dir }
}
