//! The hub's XML reader and envelope validator against xmllint, on the
//! corpus in `tests/corpus` (written by its `make-corpus.py`): every file
//! gets the same verdict from both, and each verdict is the one its folder
//! names. xmllint reports namespace errors without failing its exit status,
//! so any error it prints counts as a refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

use gwx::formats::envelope::Envelope;
use gwx::formats::xml::{self, Limits, XmlError};

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new("tests/corpus").join(dir))
        .unwrap_or_else(|e| panic!("tests/corpus/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert!(v.len() >= 5, "tests/corpus/{dir} is nearly empty");
    v
}

/// xmllint's verdict (accepted?) with `args` before the file, or `None`
/// where it is not installed and not required.
fn xmllint_accepts(args: &[&str], file: &Path) -> Option<bool> {
    let out = match Command::new("xmllint").args(args).arg(file).output() {
        Ok(o) => o,
        Err(_) if std::env::var("GWX_REQUIRE_XMLLINT").as_deref() == Ok("1") => {
            panic!("xmllint is required (apt install libxml2-utils)")
        }
        Err(_) => return None,
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    Some(out.status.success() && !stderr.contains("error"))
}

/// Checks each file of `dir` against `expected`, by the hub (`hub` gives
/// its verdict and why) and by xmllint; panics listing every disagreement.
fn check(dir: &str, expected: bool, xmllint_args: &[&str], hub: impl Fn(&[u8]) -> (bool, String)) {
    let mut wrong = Vec::new();
    for f in files(dir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let (accepted, why) = hub(&std::fs::read(&f).unwrap());
        if accepted != expected {
            wrong.push(format!("{dir}/{name}: the hub {} it ({why})", if accepted { "accepts" } else { "refuses" }));
        }
        if let Some(lint) = xmllint_accepts(xmllint_args, &f)
            && lint != expected
        {
            wrong.push(format!("{dir}/{name}: xmllint {} it", if lint { "accepts" } else { "refuses" }));
        }
    }
    assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
}

fn read(bytes: &[u8]) -> Result<xml::Document, XmlError> {
    xml::parse(bytes, Limits::default())
}

const WELL_FORMED: &[&str] = &["--noout", "--nonet"];
const ENVELOPE_SCHEMA: &[&str] = &["--noout", "--nonet", "--schema", "schemas/envelope.xsd"];

#[test]
fn well_formed_xml_is_read_as_xmllint_reads_it() {
    check("xml/ok", true, WELL_FORMED, |b| match read(b) {
        Ok(_) => (true, String::new()),
        Err(e) => (false, e.to_string()),
    });
}

#[test]
fn xml_that_is_not_well_formed_is_refused_as_xmllint_refuses_it() {
    check("xml/bad", false, WELL_FORMED, |b| match read(b) {
        Ok(_) => (true, "read".into()),
        Err(e) => (false, e.to_string()),
    });
}

#[test]
fn well_formed_but_unsafe_xml_is_refused_as_unsafe() {
    // xmllint reads these (it is not asked to expand or fetch anything);
    // the hub never processes such declarations.
    let mut wrong = Vec::new();
    for f in files("xml/unsafe") {
        match read(&std::fs::read(&f).unwrap()) {
            Err(XmlError::Unsafe(_)) => {}
            other => wrong.push(format!("{}: {other:?}", f.display())),
        }
        if xmllint_accepts(WELL_FORMED, &f) == Some(false) {
            wrong.push(format!("{}: xmllint refuses it: move it to xml/bad", f.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn envelopes_valid_against_the_schema_are_accepted() {
    check("envelope/valid", true, ENVELOPE_SCHEMA, |b| match Envelope::parse(b) {
        Ok(_) => (true, String::new()),
        Err(e) => (false, e.to_string()),
    });
}

#[test]
fn envelopes_invalid_against_the_schema_are_refused() {
    check("envelope/invalid", false, ENVELOPE_SCHEMA, |b| match Envelope::parse(b) {
        Ok(_) => (true, "parsed".into()),
        Err(e) => (false, e.to_string()),
    });
}
