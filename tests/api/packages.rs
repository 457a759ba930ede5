//! Building packages for the document tests: the letter fixture as the IT
//! bureau would send it, packages from DI bytes, re-signing an edited
//! envelope, and posting the parts as multipart; `refused` checks that a
//! refused package left nothing behind.

use std::path::Path;

use bytes::Bytes;
use gwx::client::package::{self, Outgoing, SendOptions, Source};
use gwx::domain::ParticipantCode;
use gwx::domain::document::FileName;
use gwx::pki::demo::KeyPair;
use gwx::tools::demo::{CIVIL_AFFAIRS, IT_BUREAU, SECRETARIAT};
use serde_json::Value;

use crate::helpers::{Reply, TestHub};

pub const LETTER: &str = "tests/fixtures/letter/1153012345.di";

/// The multipart parts of a package: (part name, file name, bytes).
pub type Parts = Vec<(&'static str, String, Vec<u8>)>;

pub fn keypair(hub: &TestHub, name: &str) -> KeyPair {
    KeyPair::read(&hub.path(&format!("clients/{name}"))).unwrap()
}

pub fn xml(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The letter fixture as IT_BUREAU would send it (recipients from its SW).
pub fn letter(hub: &TestHub) -> Outgoing {
    let kp = keypair(hub, IT_BUREAU);
    package::from_di_file(
        Path::new(LETTER),
        &SendOptions::default(),
        &ParticipantCode::parse(IT_BUREAU).unwrap(),
        &kp.cert,
        &kp.key,
    )
    .unwrap()
}

/// A package built from DI bytes with in-memory attachments (no checks of the client's own).
pub fn package_from(hub: &TestHub, sender: &str, di: &str, files: &[(&str, Vec<u8>)], opts: SendOptions) -> Outgoing {
    let kp = keypair(hub, sender);
    let files: Vec<(String, Vec<u8>)> = files.iter().map(|(n, b)| (n.to_string(), b.clone())).collect();
    package::build(
        FileName::parse("doc.di").unwrap(),
        Bytes::from(di.to_owned()),
        &opts,
        &ParticipantCode::parse(sender).unwrap(),
        &kp.cert,
        &kp.key,
        |name| {
            let (_, b) = files.iter().find(|(n, _)| n == name).ok_or_else(|| anyhow::anyhow!("no {name}"))?;
            Ok(Source::Bytes(Bytes::from(b.clone())))
        },
    )
    .unwrap()
}

/// Re-signs the (possibly edited) envelope with `signer`'s key.
pub fn resign(hub: &TestHub, out: &mut Outgoing, signer: &str) {
    out.envelope_xml = out.envelope.to_xml().into_bytes();
    let kp = keypair(hub, signer);
    out.signature = gwx::pki::cms::sign_detached(&out.envelope_xml, &kp.cert, &kp.key).unwrap();
}

fn bytes_of(src: &Source) -> Vec<u8> {
    match src {
        Source::Bytes(b) => b.to_vec(),
        Source::Path(p) => std::fs::read(p).unwrap(),
    }
}

pub fn parts(out: &Outgoing) -> Parts {
    let mut v = vec![
        ("envelope", "envelope.xml".to_owned(), out.envelope_xml.clone()),
        ("signature", "envelope.p7s".to_owned(), out.signature.clone()),
        ("document", out.document.entry.name.to_string(), bytes_of(&out.document.source)),
    ];
    for a in &out.attachments {
        v.push(("attachment", a.entry.name.to_string(), bytes_of(&a.source)));
    }
    v
}

/// Posts `parts` as `client` (a certificate name).
pub async fn post(hub: &TestHub, client: &str, parts: Parts) -> Reply {
    let mut form = reqwest::multipart::Form::new();
    for (name, file, bytes) in parts {
        form = form.part(name, reqwest::multipart::Part::bytes(bytes).file_name(file));
    }
    let who = hub.as_(client);
    who.send(who.request(reqwest::Method::POST, "/api/v1/documents").multipart(form)).await
}

async fn documents_stored(hub: &TestHub) -> usize {
    let mut n = 0;
    for code in [IT_BUREAU, SECRETARIAT, CIVIL_AFFAIRS] {
        n += hub
            .store()
            .log_entries(&gwx::store::LogFilter {
                participant: Some(code.into()),
                actions: vec!["document.accepted".into()],
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
    }
    n
}

/// The files under `dir` (the blob store's marker aside).
pub fn files_in(dir: &Path) -> usize {
    walk(dir).iter().filter(|p| !p.ends_with("gwx-blob-store.json")).count()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
    rd.flat_map(|e| {
        let p = e.unwrap().path();
        if p.is_dir() { walk(&p) } else { vec![p] }
    })
    .collect()
}

/// Sends `parts` as `client`, expects the refusal `name`, and checks that
/// nothing was stored: no document, no blob, no temporary file.
pub async fn refused(hub: &TestHub, client: &str, parts: Parts, status: u16, name: &str) -> Value {
    let blobs_before = (files_in(&hub.path("data/blobs")), hub.store().blob_counts().await.unwrap());
    let docs_before = documents_stored(hub).await;
    let v = post(hub, client, parts).await.refused(status, name);
    assert_eq!(documents_stored(hub).await, docs_before, "{name}: a document was stored");
    let blobs_after = (files_in(&hub.path("data/blobs")), hub.store().blob_counts().await.unwrap());
    assert_eq!(blobs_after, blobs_before, "{name}: a blob was stored");
    assert_eq!(files_in(&hub.path("data/tmp")), 0, "{name}: temporary files left");
    v
}

/// The deliveries of a document's status, by recipient code.
pub fn deliveries_by_recipient(status: &Value) -> std::collections::HashMap<String, Value> {
    status["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["recipient"].as_str().unwrap().to_owned(), r.clone()))
        .collect()
}
