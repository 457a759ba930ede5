//! The exchange envelope (`schemas/envelope.xsd`, namespace
//! `urn:gwx:envelope:1`, DESIGN §3.1): who sends what to whom, and the
//! size and SHA-256 of every file of the package. The sender signs its exact
//! bytes; the hub and every recipient check the files against it.

use std::fmt::Write;

use super::FormatError;
use super::xml::{self, Element, Limits};
use crate::domain::document::{
    Classification, FileName, RecipientCode, RecipientKind, Sha256, Speed, check_document_number,
};
use crate::domain::participant::named_enum;
use crate::domain::{Invalid, ParticipantCode};

pub const NAMESPACE: &str = "urn:gwx:envelope:1";
/// An envelope is small; anything larger is not one.
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;
/// At most this many recipient entries and files in one envelope.
pub const MAX_RECIPIENTS: usize = 20_000;
pub const MAX_FILES: usize = 200;

named_enum!(
    /// The role of a file in the package.
    FileRole, "file role" {
        /// The 公文 DI itself (exactly one).
        Document = "document",
        /// An attachment declared by the DI.
        Attachment = "attachment",
        /// The SW 交換表單 recipient list, when the DI refers to one.
        Roster = "roster",
        /// The 文書訊息表單 (DM), when the DI declares one (`NDATA DM`).
        Message = "message",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientTarget {
    Participant(RecipientCode),
    /// A send group (行文群組), by id.
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientEntry {
    pub kind: RecipientKind,
    pub target: RecipientTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub role: FileRole,
    pub name: FileName,
    pub media_type: String,
    pub size: u64,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: ParticipantCode,
    pub document_number: String,
    pub subject: String,
    pub speed: Speed,
    pub classification: Classification,
    pub immediate_confirmation: bool,
    pub recipients: Vec<RecipientEntry>,
    pub files: Vec<FileEntry>,
}

impl Envelope {
    pub fn document(&self) -> &FileEntry {
        self.files.iter().find(|f| f.role == FileRole::Document).expect("parse guarantees one document file")
    }

    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name.as_str() == name)
    }

    /// Reads and validates an envelope as `schemas/envelope.xsd` says (the
    /// names in its namespace, with any prefix; simple values exactly as
    /// written, as libxml2 validates them), plus the hub's own rules on
    /// file names and document numbers.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, FormatError> {
        let limits = Limits {
            max_bytes: MAX_ENVELOPE_BYTES,
            max_depth: 8,
            max_elements: 3 * MAX_RECIPIENTS + 6 * MAX_FILES + 20,
            max_attributes: 8,
        };
        let doc = xml::parse(bytes, limits).map_err(FormatError::from_xml)?;
        if doc.doctype.is_some() {
            return Err(FormatError::Unsafe("an envelope has no DOCTYPE".into()));
        }
        let root = &doc.root;
        let invalid = |m: String| FormatError::Invalid(m);
        if root.local != "envelope" || root.ns.as_deref() != Some(NAMESPACE) {
            return Err(invalid(format!("the root must be <envelope> in the namespace {NAMESPACE}")));
        }
        attributes(root, &[])?;
        expect_sequence(
            root,
            &[
                "sender",
                "documentNumber",
                "subject",
                "speed",
                "classification",
                "immediateConfirmation",
                "recipients",
                "files",
            ],
        )?;
        let child = |name: &str| root.elements().find(|e| e.local == name).expect("sequence checked");

        let sender = field("sender", ParticipantCode::parse(&code(child("sender"))?))?;
        let document_number = field("documentNumber", check_document_number(&code(child("documentNumber"))?))?;
        let subject = value(child("subject"))?;
        if subject.is_empty() || subject.chars().count() > 1000 {
            return Err(invalid("<subject> must be 1 to 1000 characters".into()));
        }
        let speed = field("speed", value(child("speed"))?.parse::<Speed>())?;
        let classification = field("classification", value(child("classification"))?.parse::<Classification>())?;
        // xs:boolean collapses white space.
        let immediate_confirmation = match value(child("immediateConfirmation"))?.trim_matches(xml::is_space) {
            "true" | "1" => true,
            "false" | "0" => false,
            other => return Err(invalid(format!("<immediateConfirmation> must be true or false, not '{other}'"))),
        };

        let mut recipients = Vec::new();
        let list = child("recipients");
        complex(list)?;
        for r in list.elements() {
            in_namespace(r)?;
            attributes(r, &[])?;
            complex(r)?;
            let kind = match r.local.as_str() {
                "original" => RecipientKind::Original,
                "copy" => RecipientKind::Copy,
                other => return Err(invalid(format!("<recipients> may hold <original> and <copy>, not <{other}>"))),
            };
            let target = r.elements().collect::<Vec<_>>();
            let [t] = target.as_slice() else {
                return Err(invalid(format!("<{}> must hold exactly one <participant> or <group>", r.local)));
            };
            in_namespace(t)?;
            let target = match t.local.as_str() {
                "participant" => RecipientTarget::Participant(field("participant", RecipientCode::parse(&code(t)?))?),
                "group" => {
                    let v = value(t)?;
                    if !(1..=64).contains(&v.chars().count()) || v.chars().any(char::is_control) {
                        return Err(invalid(format!("<group> '{v}' is not a group id (1 to 64 characters)")));
                    }
                    RecipientTarget::Group(v)
                }
                other => {
                    return Err(invalid(format!("<{}> may hold <participant> or <group>, not <{other}>", r.local)));
                }
            };
            recipients.push(RecipientEntry { kind, target });
        }
        if recipients.is_empty() {
            return Err(invalid("<recipients> needs at least one <original> or <copy>".into()));
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(invalid(format!("more than {MAX_RECIPIENTS} recipient entries")));
        }

        let mut files: Vec<FileEntry> = Vec::new();
        let list = child("files");
        complex(list)?;
        for f in list.elements() {
            in_namespace(f)?;
            if f.local != "file" {
                return Err(invalid(format!("<files> may hold only <file>, not <{}>", f.local)));
            }
            attributes(f, &["role"])?;
            expect_sequence(f, &["name", "mediaType", "size", "sha256"])?;
            let el = |n: &str| f.elements().find(|e| e.local == n).expect("sequence checked");
            let part = |n: &str| value(el(n));
            let role = field("file role", f.attr("role").unwrap_or("").parse::<FileRole>())?;
            let name = FileName::parse(&part("name")?).map_err(|e| FormatError::UnsafeName(format!("<name>: {e}")))?;
            let media_type = part("mediaType")?;
            if !valid_media_type(&media_type) {
                return Err(invalid(format!("<file> {name}: '{media_type}' is not a media type")));
            }
            let size = part("size")?;
            let size = Some(&size)
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| invalid(format!("<file> {name}: size '{size}' is not a number")))?;
            let sha256 = field("sha256", Sha256::parse(&code(el("sha256"))?))?;
            if files.iter().any(|g| g.name == name) {
                return Err(invalid(format!("file {name} is listed twice")));
            }
            files.push(FileEntry { role, name, media_type, size, sha256 });
        }
        if files.len() > MAX_FILES {
            return Err(invalid(format!("more than {MAX_FILES} files")));
        }
        let count = |role| files.iter().filter(|f| f.role == role).count();
        if count(FileRole::Document) != 1 {
            return Err(invalid("exactly one <file role=\"document\"> is required".into()));
        }
        for role in [FileRole::Roster, FileRole::Message] {
            if count(role) > 1 {
                return Err(invalid(format!("at most one <file role=\"{role}\">")));
            }
        }
        Ok(Envelope {
            sender,
            document_number,
            subject,
            speed,
            classification,
            immediate_confirmation,
            recipients,
            files,
        })
    }

    /// The envelope as XML, as the client writes it before signing.
    pub fn to_xml(&self) -> String {
        // A CR written as itself would be read back as LF (XML's line ends).
        let e = |s: &str| quick_xml::escape::escape(s).replace('\r', "&#13;");
        let mut x = String::new();
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<envelope xmlns=\"{NAMESPACE}\">\n  <sender>{}</sender>\n  \
             <documentNumber>{}</documentNumber>\n  <subject>{}</subject>\n  <speed>{}</speed>\n  \
             <classification>{}</classification>\n  <immediateConfirmation>{}</immediateConfirmation>\n  <recipients>\n",
            self.sender,
            e(&self.document_number),
            e(&self.subject),
            self.speed,
            self.classification,
            self.immediate_confirmation
        );
        for r in &self.recipients {
            let (tag, value) = match &r.target {
                RecipientTarget::Participant(c) => ("participant", c.to_string()),
                RecipientTarget::Group(g) => ("group", g.clone()),
            };
            let _ = writeln!(x, "    <{0}><{tag}>{1}</{tag}></{0}>", r.kind, e(&value));
        }
        x.push_str("  </recipients>\n  <files>\n");
        for f in &self.files {
            let _ = writeln!(
                x,
                "    <file role=\"{}\"><name>{}</name><mediaType>{}</mediaType><size>{}</size><sha256>{}</sha256></file>",
                f.role,
                e(f.name.as_str()),
                e(&f.media_type),
                f.size,
                f.sha256
            );
        }
        x.push_str("  </files>\n</envelope>\n");
        x
    }
}

/// `type/subtype[;params]` with RFC 6838 token characters, as the XSD says.
fn valid_media_type(m: &str) -> bool {
    let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    let base = m.split(';').next().unwrap_or("");
    m.len() <= 127
        && !m.chars().any(char::is_control)
        && base.split_once('/').is_some_and(|(t, s)| token(t) && token(s))
}

/// A field's domain parse, refused as an invalid envelope naming the element.
fn field<T>(what: &str, r: Result<T, Invalid>) -> Result<T, FormatError> {
    r.map_err(|e| FormatError::Invalid(format!("<{what}>: {e}")))
}

/// The XML Schema instance namespace: `xsi:schemaLocation` is allowed anywhere.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// `el` is in the envelope's namespace.
fn in_namespace(el: &Element) -> Result<(), FormatError> {
    if el.ns.as_deref() == Some(NAMESPACE) {
        return Ok(());
    }
    let ns = el.ns.as_deref().map(|n| format!("the namespace {n}")).unwrap_or_else(|| "no namespace".into());
    Err(FormatError::Invalid(format!("<{}> is in {ns}, not in the envelope's ({NAMESPACE})", el.name)))
}

/// `el` has no attributes but `allowed` (unqualified), namespace
/// declarations and `xsi:schemaLocation`.
fn attributes(el: &Element, allowed: &[&str]) -> Result<(), FormatError> {
    for a in &el.attrs {
        let ok = match a.ns.as_deref() {
            None => allowed.contains(&a.local.as_str()),
            Some(xml::XMLNS_NS) => true,
            Some(XSI) => a.local == "schemaLocation" || a.local == "noNamespaceSchemaLocation",
            Some(_) => false,
        };
        if !ok {
            return Err(FormatError::Invalid(format!("<{}> has no attribute {}", el.local, a.name)));
        }
    }
    Ok(())
}

/// An element of element-only content: no text but white space.
fn complex(el: &Element) -> Result<(), FormatError> {
    if el.has_text() {
        return Err(FormatError::Invalid(format!("<{}> must not contain text", el.local)));
    }
    Ok(())
}

/// The text of an element of simple type, exactly as written (libxml2
/// keeps white space in these types); no child elements, no attributes.
fn value(el: &Element) -> Result<String, FormatError> {
    in_namespace(el)?;
    attributes(el, &[])?;
    if let Some(child) = el.elements().next() {
        return Err(FormatError::Invalid(format!("<{}> holds text only, not <{}>", el.local, child.name)));
    }
    Ok(el.text())
}

/// A code's text: as [`value`], with no white space around it (the
/// schema's patterns allow none; the domain's parsers would trim it).
fn code(el: &Element) -> Result<String, FormatError> {
    let v = value(el)?;
    if v.trim() != v {
        return Err(FormatError::Invalid(format!("<{}> '{v}' has white space around it", el.local)));
    }
    Ok(v)
}

/// The element children of `el` are exactly `names` in the envelope's
/// namespace, in that order, with no text between them.
pub(super) fn expect_sequence(el: &Element, names: &[&str]) -> Result<(), FormatError> {
    for e in el.elements() {
        in_namespace(e)?;
    }
    let got: Vec<&str> = el.elements().map(|e| e.local.as_str()).collect();
    if got != names {
        return Err(FormatError::Invalid(format!(
            "<{}> must contain <{}> in this order; found <{}>",
            el.local,
            names.join(">, <"),
            got.join(">, <")
        )));
    }
    complex(el)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope {
            sender: ParticipantCode::parse("379130000C").unwrap(),
            document_number: "北市資綜字第1153012345號".into(),
            subject: "檢送本局網域轉移計畫1份，請查照。".into(),
            speed: Speed::Normal,
            classification: Classification::Ordinary,
            immediate_confirmation: false,
            recipients: vec![
                RecipientEntry {
                    kind: RecipientKind::Original,
                    target: RecipientTarget::Participant(RecipientCode::parse("379100000G").unwrap()),
                },
                RecipientEntry { kind: RecipientKind::Copy, target: RecipientTarget::Group("G7".into()) },
            ],
            files: vec![FileEntry {
                role: FileRole::Document,
                name: FileName::parse("1153012345.di").unwrap(),
                media_type: "application/xml".into(),
                size: 12,
                sha256: Sha256::of(b"hello"),
            }],
        }
    }

    #[test]
    fn round_trip() {
        let e = sample();
        assert_eq!(Envelope::parse(e.to_xml().as_bytes()).unwrap(), e);
    }

    #[test]
    fn refusals_name_the_problem() {
        let xml = sample().to_xml();
        let bad = |from: &str, to: &str| Envelope::parse(xml.replace(from, to).as_bytes()).unwrap_err().to_string();
        assert!(bad(NAMESPACE, "urn:other").contains("root"));
        assert!(bad("<speed>普通件</speed>", "<speed>很快</speed>").contains("速別"));
        assert!(bad("role=\"document\"", "role=\"attachment\"").contains("exactly one"));
        assert!(bad("1153012345.di", "../1153012345.di").contains("path separator"));
        assert!(bad("<subject>", "<subject>&xxe;").contains("not allowed"));
        assert!(bad("<speed>", "<extra/><speed>").contains("in this order"));
    }
}
