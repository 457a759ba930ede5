//! The committed fixtures against the official DTDs and our XSDs (with
//! xmllint) and against the hub's own parsers, so that neither the fixtures
//! nor the validator can drift from the published formats.

use std::path::Path;
use std::process::Command;

use gwx::formats::envelope::{Envelope, FileRole};
use gwx::formats::{FormatError, document::OfficialDocument, roster};

fn fixture(p: &str) -> Vec<u8> {
    std::fs::read(Path::new("tests/fixtures").join(p)).unwrap()
}

/// `xmllint` from Debian's libxml2-utils. Missing: a skip, except where
/// `GWX_REQUIRE_XMLLINT=1` (CI), where it fails.
fn xmllint(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("xmllint").args(args).output() {
        Ok(o) => Some(o),
        Err(_) if std::env::var("GWX_REQUIRE_XMLLINT").as_deref() == Ok("1") => {
            panic!("xmllint is required (apt install libxml2-utils)")
        }
        Err(_) => {
            eprintln!("skipped: xmllint not installed (apt install libxml2-utils)");
            None
        }
    }
}

fn assert_valid(args: &[&str]) {
    if let Some(out) = xmllint(args) {
        assert!(out.status.success(), "xmllint {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

const DI_AND_SW: &[&str] = &[
    "tests/fixtures/letter/1153012345.di",
    "tests/fixtures/letter/1153012345.sw",
    "tests/fixtures/plain/1153000001.di",
    "tests/fixtures/bad/confidential.di",
];

#[test]
fn fixtures_are_valid_national_format() {
    for f in DI_AND_SW {
        assert_valid(&["--noout", "--nonet", "--path", "schemas/national-dtd", "--valid", f]);
    }
}

#[test]
fn fixtures_are_valid_against_our_schemas() {
    for f in DI_AND_SW {
        assert_valid(&["--noout", "--nonet", "--schema", "schemas/di-subset.xsd", f]);
    }
    for f in ["tests/fixtures/letter/envelope.xml", "tests/fixtures/plain/envelope.xml"] {
        assert_valid(&["--noout", "--nonet", "--schema", "schemas/envelope.xsd", f]);
    }
}

#[test]
fn schemas_reject_what_the_hub_rejects() {
    // A changed speed in the envelope, an unknown 函類別 in the DI: both sides refuse.
    let dir = tempfile::tempdir().unwrap();
    let env = String::from_utf8(fixture("letter/envelope.xml"))
        .unwrap()
        .replace("<speed>速件</speed>", "<speed>很急</speed>");
    let env_path = dir.path().join("envelope.xml");
    std::fs::write(&env_path, &env).unwrap();
    assert!(Envelope::parse(env.as_bytes()).is_err());
    if let Some(out) = xmllint(&["--noout", "--schema", "schemas/envelope.xsd", env_path.to_str().unwrap()]) {
        assert!(!out.status.success());
    }
    let di = String::from_utf8(fixture("plain/1153000001.di")).unwrap().replace("<地址>", "<備考/><地址>");
    let di_path = dir.path().join("x.di");
    std::fs::write(&di_path, &di).unwrap();
    assert!(OfficialDocument::parse(di.as_bytes()).is_err());
    if let Some(out) = xmllint(&["--noout", "--schema", "schemas/di-subset.xsd", di_path.to_str().unwrap()]) {
        assert!(!out.status.success());
    }
}

#[test]
fn the_hub_reads_the_fixtures() {
    let env = Envelope::parse(&fixture("letter/envelope.xml")).unwrap();
    assert_eq!(env.sender.as_str(), "379130000C");
    assert_eq!(env.files.len(), 5);
    assert_eq!(env.document().name.as_str(), "1153012345.di");
    assert_eq!(env.files.iter().filter(|f| f.role == FileRole::Attachment).count(), 3);

    let di = OfficialDocument::parse(&fixture("letter/1153012345.di")).unwrap();
    assert_eq!(di.number.to_string(), env.document_number);
    assert_eq!(di.subject, env.subject);
    assert_eq!(di.roster_file(), Some("1153012345.sw"));
    assert_eq!(di.attachment_files().count(), 3);

    let sw = roster::parse(&fixture("letter/1153012345.sw")).unwrap();
    assert_eq!(sw.iter().map(|r| r.code.to_string()).collect::<Vec<_>>(), ["379100000G", "379200000A"]);

    // Every listed file matches its bytes.
    for f in &env.files {
        let bytes = fixture(&format!("letter/{}", f.name));
        assert_eq!(bytes.len() as u64, f.size, "{}", f.name);
        assert_eq!(gwx::domain::document::Sha256::of(&bytes), f.sha256, "{}", f.name);
    }
}

#[test]
fn the_hub_refuses_the_bad_fixtures() {
    for f in ["bad/xxe.di", "bad/billion-laughs.di"] {
        assert!(matches!(OfficialDocument::parse(&fixture(f)), Err(FormatError::Unsafe(_))), "{f}");
    }
    let secret = OfficialDocument::parse(&fixture("bad/confidential.di")).unwrap();
    assert!(secret.classification.is_confidential());
    let exe = gwx::formats::attachment::sniff(&fixture("bad/renamed.pdf"), false);
    assert!(gwx::formats::attachment::check("renamed.pdf", Some("pdf"), &exe).is_err());
    for f in ["letter/1153012345_ATTCH1.pdf", "letter/1153012345_ATTCH2.odt", "letter/1153012345_ATTCH3.png"] {
        let name = gwx::domain::document::FileName::parse(f.rsplit('/').next().unwrap()).unwrap();
        let s = gwx::formats::attachment::sniff(&fixture(f), false);
        gwx::formats::attachment::check(name.as_str(), name.extension().as_deref(), &s).unwrap();
    }
}
