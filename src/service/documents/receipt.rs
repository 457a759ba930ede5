//! The hub's receipt (DESIGN §3.4): what was accepted, when, for whom,
//! signed by the hub (CMS, content attached) so the sender can prove the
//! submission without trusting the hub's database later.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::pki::receipt::ReceiptSigner;

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

    /// The CMS (DER) of the receipt's JSON, signed by the hub.
    pub fn sign(&self, signer: &ReceiptSigner) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        signer.sign(&serde_json::to_vec(self).expect("receipt serialises"))
    }
}
