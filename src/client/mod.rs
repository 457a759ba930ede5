//! The agency-side client used by the `gwx` client commands: HTTPS with the
//! participant's certificate and key, the hub verified against a CA file.

use std::path::PathBuf;

use anyhow::Context;

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
    /// CA certificates the hub's certificate must chain to.
    #[arg(long, env = "GWX_CA")]
    pub ca: PathBuf,
}

pub struct Client {
    http: reqwest::Client,
    hub: String,
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

impl Client {
    pub fn new(id: &Identity) -> anyhow::Result<Client> {
        let cert = std::fs::read(&id.cert).with_context(|| format!("read {}", id.cert.display()))?;
        let key = std::fs::read(&id.key).with_context(|| format!("read {}", id.key.display()))?;
        let ca = std::fs::read(&id.ca).with_context(|| format!("read {}", id.ca.display()))?;
        let identity = reqwest::Identity::from_pkcs8_pem(&cert, &key).context("certificate and key")?;
        let mut b = reqwest::Client::builder()
            .identity(identity)
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).context("CA file")?);
        b = b.https_only(true);
        Ok(Client { http: b.build()?, hub: id.hub.trim_end_matches('/').to_owned() })
    }

    /// GET a JSON resource; a problem+json answer becomes a [`HubProblem`].
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let resp = self.http.get(format!("{}{path}", self.hub)).send().await.context("cannot reach the hub")?;
        Self::json(resp).await
    }

    async fn json(resp: reqwest::Response) -> anyhow::Result<serde_json::Value> {
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        Err(HubProblem {
            status: status.as_u16(),
            type_: field("type"),
            title: field("title"),
            detail: field("detail"),
        }
        .into())
    }
}
