//! The agency-side client used by the `gwx` commands: HTTPS with the
//! participant's certificate and key, the hub verified against a CA file.

pub mod package;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::StreamExt;

use package::{Outgoing, OutgoingFile, Source};

/// Where the hub is and who we are: flags, or `GWX_HUB`, `GWX_CERT`, `GWX_KEY`, `GWX_CA`.
#[derive(Debug, Clone, clap::Args)]
pub struct Identity {
    /// Base URL of the hub.
    #[arg(long, env = "GWX_HUB", default_value = "https://localhost:8443")]
    pub hub: String,
    /// The participant's certificate (PEM).
    #[arg(long, env = "GWX_CERT")]
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8).
    #[arg(long, env = "GWX_KEY")]
    pub key: PathBuf,
    /// CA certificates the hub's certificate (and signers' certificates) must chain to.
    #[arg(long, env = "GWX_CA")]
    pub ca: PathBuf,
}

/// How many times [`Client::send`] sends a package whose answer it did not
/// get (pauses 0.2 s, 0.4 s, … up to 5 s between them).
pub const SEND_ATTEMPTS: u32 = 8;

/// How an attempt to send ended, when not with an answer.
enum Sent {
    /// No answer (or a proxy's): the same package may be sent again.
    Again(anyhow::Error),
    /// The hub's refusal, or a package that cannot be sent.
    Refused(anyhow::Error),
}

pub struct Client {
    http: reqwest::Client,
    hub: String,
    pub identity: Identity,
}

/// A refusal from the hub, shown the way the hub phrased it.
#[derive(Debug, thiserror::Error)]
#[error("{title}: {detail} ({type_})")]
pub struct HubProblem {
    pub status: u16,
    pub type_: String,
    pub title: String,
    pub detail: String,
}

/// The HTTP version a client speaks to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
pub enum HttpVersion {
    #[value(name = "1.1")]
    Http1,
    /// Offered by ALPN; the hub chooses it.
    #[value(name = "2")]
    Http2,
}

impl Client {
    /// A client speaking HTTP/1.1.
    pub fn new(id: &Identity) -> anyhow::Result<Client> {
        Self::speaking(id, HttpVersion::Http1)
    }

    pub fn speaking(id: &Identity, version: HttpVersion) -> anyhow::Result<Client> {
        let cert = std::fs::read(&id.cert).with_context(|| format!("read {}", id.cert.display()))?;
        let key = std::fs::read(&id.key).with_context(|| format!("read {}", id.key.display()))?;
        let ca = std::fs::read(&id.ca).with_context(|| format!("read {}", id.ca.display()))?;
        let identity = reqwest::Identity::from_pkcs8_pem(&cert, &key).context("certificate and key")?;
        let builder = reqwest::Client::builder()
            .identity(identity)
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).context("CA file")?)
            .https_only(true);
        let http = match version {
            HttpVersion::Http1 => builder.http1_only(),
            HttpVersion::Http2 => builder,
        }
        .build()?;
        Ok(Client { http, hub: id.hub.trim_end_matches('/').to_owned(), identity: id.clone() })
    }

    /// The hub's address this client speaks to.
    pub fn hub(&self) -> &str {
        &self.hub
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.hub)
    }

    /// GET a JSON resource; a problem+json answer becomes a [`HubProblem`].
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let resp = self.http.get(self.url(path)).send().await.context("cannot reach the hub")?;
        Self::json(resp).await.map(|(_, v)| v)
    }

    /// The HTTP version the hub answers `path` in.
    pub async fn version_of(&self, path: &str) -> anyhow::Result<http::Version> {
        Ok(self.http.get(self.url(path)).send().await.context("cannot reach the hub")?.version())
    }

    /// GET a resource as bytes (CSV, a printable page).
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let resp = self.http.get(self.url(path)).send().await.context("cannot reach the hub")?;
        Ok(succeeded(resp).await?.bytes().await?.to_vec())
    }

    /// GET a resource and count its bytes as they arrive, keeping none (an
    /// export, measured as a reader streaming it would).
    pub async fn count_bytes(&self, path: &str) -> anyhow::Result<usize> {
        let resp = self.http.get(self.url(path)).send().await.context("cannot reach the hub")?;
        let mut resp = succeeded(resp).await?;
        let mut bytes = 0;
        while let Some(chunk) = resp.chunk().await? {
            bytes += chunk.len();
        }
        Ok(bytes)
    }

    /// PUT a JSON body.
    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let resp = self.http.put(self.url(path)).json(body).send().await.context("cannot reach the hub")?;
        Self::json(resp).await.map(|(_, v)| v)
    }

    /// POST a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let resp = self.http.post(self.url(path)).json(body).send().await.context("cannot reach the hub")?;
        Self::json(resp).await.map(|(_, v)| v)
    }

    async fn json(resp: reqwest::Response) -> anyhow::Result<(u16, serde_json::Value)> {
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            return Ok((status.as_u16(), body));
        }
        Err(problem(status.as_u16(), &body).into())
    }

    /// Uploads a signed package; returns the HTTP status (201 new, 200 the
    /// same envelope again) and the receipt. `progress` draws a bar.
    ///
    /// A submission whose connection failed before its answer was read (a
    /// node killed behind the load balancer, a network cut), or that a
    /// proxy, a node shutting down or a hub whose document store does not
    /// answer answered 502–504, is sent again, up to [`SEND_ATTEMPTS`] times
    /// with growing pauses (about 16 s in all, what a load balancer takes
    /// to notice a dead node, several times over): the hub takes the same
    /// envelope again as the same document (200 and the first receipt), so
    /// a document is never accepted twice, nor lost unacknowledged.
    pub async fn send(
        &self,
        out: &Outgoing,
        progress: Option<indicatif::ProgressBar>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut pause = std::time::Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.send_once(out, progress.clone()).await {
                Ok(answer) => {
                    if let Some(p) = progress {
                        p.finish_and_clear();
                    }
                    return Ok(answer);
                }
                Err(Sent::Again(e)) if attempt < SEND_ATTEMPTS => {
                    tracing::warn!(attempt, error = %format!("{e:#}"), "no answer from the hub; sending again");
                    if let Some(p) = &progress {
                        p.set_position(0);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(5));
                    attempt += 1;
                }
                Err(Sent::Again(e)) => return Err(e.context(format!("no answer from the hub in {attempt} attempts"))),
                Err(Sent::Refused(e)) => return Err(e),
            }
        }
    }

    /// Sends a package once, without sending it again when no answer
    /// comes: the bench, which counts a lost connection as a failure.
    pub async fn send_without_retry(&self, out: &Outgoing) -> anyhow::Result<(u16, serde_json::Value)> {
        self.send_once(out, None).await.map_err(|(Sent::Again(e) | Sent::Refused(e))| e)
    }

    async fn send_once(
        &self,
        out: &Outgoing,
        progress: Option<indicatif::ProgressBar>,
    ) -> Result<(u16, serde_json::Value), Sent> {
        use reqwest::multipart::{Form, Part};
        let refused = Sent::Refused;
        let mut form = Form::new()
            .part(
                "envelope",
                Part::bytes(out.envelope_xml.clone())
                    .file_name("envelope.xml")
                    .mime_str("application/xml")
                    .map_err(|e| refused(e.into()))?,
            )
            .part(
                "signature",
                Part::bytes(out.signature.clone())
                    .file_name("envelope.p7s")
                    .mime_str("application/pkcs7-signature")
                    .map_err(|e| refused(e.into()))?,
            )
            .part("document", file_part(&out.document, progress.clone()).await.map_err(refused)?);
        for a in &out.attachments {
            form = form.part("attachment", file_part(a, progress.clone()).await.map_err(refused)?);
        }
        let resp = match self.http.post(self.url("/api/v1/documents")).multipart(form).send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => return Err(refused(e.into())),
            Err(e) => return Err(Sent::Again(anyhow::Error::new(e).context("cannot reach the hub"))),
        };
        let status = resp.status();
        if matches!(status.as_u16(), 502..=504) {
            return Err(Sent::Again(anyhow::anyhow!("the hub answered {status}")));
        }
        // The answer cut off (a 201 whose receipt was lost with the node): again.
        let bytes =
            resp.bytes().await.map_err(|e| Sent::Again(anyhow::Error::new(e).context("the answer was cut off")))?;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            return Ok((status.as_u16(), body));
        }
        Err(refused(problem(status.as_u16(), &body).into()))
    }

    /// Downloads a delivery's package and discards it (load generation);
    /// returns its size.
    pub async fn download(&self, delivery: &str) -> anyhow::Result<usize> {
        self.count_bytes(&format!("/api/v1/deliveries/{delivery}/package")).await
    }

    /// Downloads a delivery's package into `out` (one file per part) and
    /// returns the paths written.
    pub async fn fetch(&self, delivery: &str, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let resp = self
            .http
            .get(self.url(&format!("/api/v1/deliveries/{delivery}/package")))
            .send()
            .await
            .context("cannot reach the hub")?;
        let resp = succeeded(resp).await?;
        let ct =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let boundary = ct
            .strip_prefix("multipart/mixed")
            .and_then(|rest| rest.split(';').find_map(|p| p.trim().strip_prefix("boundary=")))
            .map(|b| b.trim_matches('"').to_owned())
            .context("the hub's answer is not multipart/mixed")?;
        std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
        let mut parts = multer::Multipart::new(resp.bytes_stream(), boundary);
        let mut written = Vec::new();
        while let Some(mut field) = parts.next_field().await? {
            let name = match field.name() {
                Some("envelope") => verify::ENVELOPE_FILE.to_owned(),
                Some("signature") => verify::SIGNATURE_FILE.to_owned(),
                _ => crate::domain::document::FileName::parse(field.file_name().unwrap_or(""))
                    .context("a part with an unsafe file name")?
                    .to_string(),
            };
            let path = out.join(&name);
            let mut file = tokio::fs::File::create(&path).await?;
            while let Some(chunk) = field.chunk().await? {
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
            }
            tokio::io::AsyncWriteExt::flush(&mut file).await?;
            written.push(path);
        }
        Ok(written)
    }
}

/// `resp` if the hub answered with success; otherwise its problem+json as a
/// [`HubProblem`].
async fn succeeded(resp: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    Err(problem(status.as_u16(), &body).into())
}

fn problem(status: u16, body: &serde_json::Value) -> HubProblem {
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    HubProblem { status, type_: field("type"), title: field("title"), detail: field("detail") }
}

async fn file_part(
    f: &OutgoingFile,
    progress: Option<indicatif::ProgressBar>,
) -> anyhow::Result<reqwest::multipart::Part> {
    let size = f.entry.size;
    let body = match &f.source {
        Source::Bytes(b) => {
            if let Some(p) = &progress {
                p.inc(size);
            }
            reqwest::Body::from(b.clone())
        }
        Source::Path(path) => {
            let file = tokio::fs::File::open(path).await.with_context(|| format!("open {}", path.display()))?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).inspect(move |chunk| {
                if let (Some(p), Ok(c)) = (&progress, chunk) {
                    p.inc(c.len() as u64);
                }
            });
            reqwest::Body::wrap_stream(stream)
        }
    };
    Ok(reqwest::multipart::Part::stream_with_length(body, size)
        .file_name(f.entry.name.to_string())
        .mime_str(&f.entry.media_type)?)
}
