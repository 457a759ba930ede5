//! Checking a fetched package without trusting the hub: the envelope's
//! signature against the CA certificates, and every file against the
//! envelope's sizes and SHA-256 digests.

use std::path::Path;

use anyhow::{Context, bail};

use crate::domain::document::Sha256;
use crate::formats::envelope::Envelope;
use crate::pki::trust::TrustMaterial;
use crate::pki::{cms, name_to_string};

/// File names a fetched package is written under.
pub const ENVELOPE_FILE: &str = "envelope.xml";
pub const SIGNATURE_FILE: &str = "envelope.p7s";

#[derive(Debug, Clone)]
pub struct Verified {
    pub envelope: Envelope,
    pub signer: String,
    pub files: usize,
}

/// Verifies the package in `dir` against the trust anchors in `ca_file`.
pub fn verify_dir(dir: &Path, ca_file: &Path) -> anyhow::Result<Verified> {
    let envelope_xml =
        std::fs::read(dir.join(ENVELOPE_FILE)).with_context(|| format!("{ENVELOPE_FILE} in {}", dir.display()))?;
    let signature =
        std::fs::read(dir.join(SIGNATURE_FILE)).with_context(|| format!("{SIGNATURE_FILE} in {}", dir.display()))?;
    let trust = TrustMaterial::load_ca_file(ca_file)?;
    let signer = cms::verify_detached(&signature, &envelope_xml, &trust).context("envelope signature")?;
    let envelope = Envelope::parse(&envelope_xml)?;
    for f in &envelope.files {
        let path = dir.join(f.name.as_str());
        let bytes = std::fs::read(&path).with_context(|| format!("{} is missing", f.name))?;
        if bytes.len() as u64 != f.size {
            bail!("{} is {} bytes; the signed envelope says {}", f.name, bytes.len(), f.size);
        }
        if Sha256::of(&bytes) != f.sha256 {
            bail!("{} does not match the SHA-256 in the signed envelope", f.name);
        }
    }
    Ok(Verified { files: envelope.files.len(), signer: name_to_string(signer.subject_name()), envelope })
}
