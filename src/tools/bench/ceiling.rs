//! The machine's own ceiling, measured in the same run as the load, so
//! results read as a fraction of what this machine can do at all.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Ceiling {
    /// RSA-2048 SHA-256 signatures per second, one core.
    pub rsa_sign_per_s: f64,
    pub rsa_verify_per_s: f64,
    /// ECDSA P-256 signatures per second, one core (the hub's receipts).
    pub ecdsa_sign_per_s: f64,
    /// SHA-256 throughput, MiB/s, one core.
    pub sha256_mib_per_s: f64,
    /// 4 KiB write + fsync per second in the data directory.
    pub fsync_per_s: f64,
    /// 99th percentile and maximum of one write + fsync, milliseconds: the
    /// disk's own tail, a floor under any durable commit's tail latency.
    pub fsync_p99_ms: f64,
    pub fsync_max_ms: f64,
    pub cores: usize,
}

fn rate(budget: Duration, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

impl Ceiling {
    /// Documents per second one core could accept if it did nothing but
    /// the per-document cryptography: verify the sender's RSA signature,
    /// sign the receipt (ECDSA), hash `bytes` of package.
    pub fn crypto_documents_per_core(&self, bytes: usize) -> f64 {
        let secs = 1.0 / self.rsa_verify_per_s
            + 1.0 / self.ecdsa_sign_per_s
            + bytes as f64 / (self.sha256_mib_per_s * 1024.0 * 1024.0);
        1.0 / secs
    }
}

pub fn measure(dir: &Path, budget: Duration) -> anyhow::Result<Ceiling> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let data = b"gwx ceiling: the bytes of an envelope to sign";
    let sign = || {
        let mut s = Signer::new(MessageDigest::sha256(), &key).expect("signer");
        s.update(data).expect("update");
        s.sign_to_vec().expect("sign")
    };
    let sig = sign();
    let rsa_sign_per_s = rate(budget, || {
        sign();
    });
    let rsa_verify_per_s = rate(budget, || {
        let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
        v.update(data).expect("update");
        assert!(v.verify(&sig).expect("verify"));
    });
    let ec = crate::pki::demo::new_ec_key()?;
    let ecdsa_sign_per_s = rate(budget, || {
        let mut s = Signer::new(MessageDigest::sha256(), &ec).expect("signer");
        s.update(data).expect("update");
        std::hint::black_box(s.sign_to_vec().expect("sign"));
    });
    let block = vec![0x5au8; 1024 * 1024];
    let sha_blocks = rate(budget, || {
        std::hint::black_box(openssl::sha::sha256(&block));
    });
    let path = dir.join(format!("ceiling-{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&path)?;
    let page = [0u8; 4096];
    let mut times = Vec::new();
    let fsync_per_s = rate(budget * 3, || {
        let t = Instant::now();
        f.write_all(&page).expect("write");
        f.sync_all().expect("fsync");
        times.push(t.elapsed());
    });
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let fsync_p99_ms = times.get(times.len() * 99 / 100).copied().map(ms).unwrap_or(0.0);
    let fsync_max_ms = times.last().copied().map(ms).unwrap_or(0.0);
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(Ceiling {
        rsa_sign_per_s,
        rsa_verify_per_s,
        ecdsa_sign_per_s,
        sha256_mib_per_s: sha_blocks,
        fsync_per_s,
        fsync_p99_ms,
        fsync_max_ms,
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}
