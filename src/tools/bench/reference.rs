//! The reference server of `gwx bench --reference nginx`: Debian's nginx
//! with the hub's certificate, requiring a client certificate from the demo
//! CA (`ssl_verify_client on`), reading every upload whole and answering 201
//! to the same multipart POSTs, driven by the same client. What gwx does
//! beyond TLS and HTTP (verify, store durably, route, sign a receipt) is
//! what separates the two figures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::client::{Client, HttpVersion};

pub(super) struct Nginx {
    pub(super) url: String,
    child: std::process::Child,
    dir: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// nginx's configuration: the hub's TLS setup, one worker per core, the
/// body read and discarded before the answer (`return` does that on a
/// keep-alive connection), nothing logged per request.
fn config(dir: &Path, demo: &Path, port: u16) -> String {
    let (d, c) = (dir.display(), demo.join("certs").display().to_string());
    format!(
        "daemon off;
master_process on;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {c}/hub.pem;
        ssl_certificate_key {c}/hub.key;
        ssl_client_certificate {c}/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 1g;
        location = /api/v1/documents {{
            default_type application/json;
            return 201 '{{}}';
        }}
        location / {{
            default_type application/json;
            return 200 '{{}}';
        }}
    }}
}}
"
    )
}

impl Nginx {
    pub(super) fn start(demo: &Path) -> anyhow::Result<Nginx> {
        let dir = std::env::temp_dir().join(format!("gwx-bench-nginx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        std::fs::write(dir.join("nginx.conf"), config(&dir, demo, port))?;
        let binary = ["/usr/sbin/nginx", "nginx"].into_iter().find(|b| Path::new(b).exists()).unwrap_or("nginx");
        let child = std::process::Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("cannot start nginx (apt-get install nginx)")?;
        let nginx = Nginx { url: format!("https://localhost:{port}"), child, dir };
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(t.elapsed() < Duration::from_secs(10), "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(nginx)
    }

    /// CPU seconds of the master and its workers.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        let master = self.child.id();
        let mut total = super::cpu_seconds(master)?;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(master) {
                total += super::cpu_seconds(pid).unwrap_or(0.0);
            }
        }
        Some(total)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers and exits.
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fails unless `client` is answered in the HTTP version asked for.
pub(super) async fn expect_version(client: &Client, version: HttpVersion) -> anyhow::Result<()> {
    let got = client.version_of("/api/v1/roster").await?;
    let want = match version {
        HttpVersion::Http1 => http::Version::HTTP_11,
        HttpVersion::Http2 => http::Version::HTTP_2,
    };
    anyhow::ensure!(got == want, "asked for {want:?}, answered in {got:?}");
    Ok(())
}
