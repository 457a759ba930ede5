//! The hub's receipt (DESIGN §3.4): what was accepted, when, for whom,
//! signed by the hub (CMS, content attached) so the sender can prove the
//! submission without trusting the hub's database later.

use chrono::{DateTime, SecondsFormat, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::pki::cms;

/// One resolved recipient as the receipt lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReceiptRecipient {
    pub participant: String,
    /// `original` (正本) or `copy` (副本).
    pub kind: String,
    /// The send group that brought this recipient.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via_group: Option<String>,
}

/// The signed content of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReceiptContent {
    pub document_id: String,
    pub sender: String,
    pub document_number: String,
    pub envelope_sha256: String,
    /// RFC 3339.
    pub accepted_at: String,
    pub recipients: Vec<ReceiptRecipient>,
}

impl ReceiptContent {
    pub fn accepted_at(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// Signs receipts with the hub's certificate.
pub struct ReceiptSigner {
    cert: X509,
    chain: Vec<X509>,
    key: PKey<Private>,
}

impl ReceiptSigner {
    /// The hub certificate chain (leaf first) and key, PEM.
    pub fn load(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<Self> {
        let mut certs = X509::stack_from_pem(cert_pem)?.into_iter();
        let cert = certs.next().ok_or_else(|| anyhow::anyhow!("no certificate in the hub certificate file"))?;
        let key = PKey::private_key_from_pem(key_pem)?;
        Ok(ReceiptSigner { cert, chain: certs.collect(), key })
    }

    /// The CMS (DER) of the receipt's JSON.
    pub fn sign(&self, content: &ReceiptContent) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let json = serde_json::to_vec(content).expect("receipt serialises");
        cms::sign_attached(&json, &self.cert, &self.key, &self.chain)
    }
}
