//! The key the hub signs its receipts with (DESIGN §3.4): a CMS SignedData
//! with the content attached, so a sender can prove a submission without
//! trusting the hub's database later.

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::cms;

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

    /// CMS SignedData (DER) with `content` attached.
    pub fn sign(&self, content: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        cms::sign_attached(content, &self.cert, &self.key, &self.chain)
    }
}
