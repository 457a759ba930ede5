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

    pub fn parse(bytes: &[u8]) -> Result<Envelope, FormatError> {
        let limits = Limits {
            max_bytes: MAX_ENVELOPE_BYTES,
            max_depth: 8,
            max_elements: 3 * MAX_RECIPIENTS + 6 * MAX_FILES + 20,
            max_attributes: 4,
        };
        let doc = xml::parse(bytes, limits).map_err(FormatError::from_xml)?;
        if doc.doctype.is_some() {
            return Err(FormatError::Unsafe("an envelope has no DOCTYPE".into()));
        }
        let root = &doc.root;
        let invalid = |m: String| FormatError::Invalid(m);
        if root.name != "envelope" || root.attr("xmlns") != Some(NAMESPACE) {
            return Err(invalid(format!("the root must be <envelope xmlns=\"{NAMESPACE}\">")));
        }
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
        let text = |name: &str| root.child(name).map(|e| e.text().trim().to_owned()).unwrap_or_default();

        let sender = field("sender", ParticipantCode::parse(&text("sender")))?;
        let document_number = field("documentNumber", check_document_number(&text("documentNumber")))?;
        let subject = text("subject");
        if subject.is_empty() || subject.chars().count() > 1000 {
            return Err(invalid("<subject> must be 1 to 1000 characters".into()));
        }
        let speed = field("speed", text("speed").parse::<Speed>())?;
        let classification = field("classification", text("classification").parse::<Classification>())?;
        let immediate_confirmation = match text("immediateConfirmation").as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => return Err(invalid(format!("<immediateConfirmation> must be true or false, not '{other}'"))),
        };

        let mut recipients = Vec::new();
        for r in root.child("recipients").expect("sequence checked").elements() {
            let kind = match r.name.as_str() {
                "original" => RecipientKind::Original,
                "copy" => RecipientKind::Copy,
                other => return Err(invalid(format!("<recipients> may hold <original> and <copy>, not <{other}>"))),
            };
            let target = r.elements().collect::<Vec<_>>();
            let [t] = target.as_slice() else {
                return Err(invalid(format!("<{}> must hold exactly one <participant> or <group>", r.name)));
            };
            let value = t.text().trim().to_owned();
            let target = match t.name.as_str() {
                "participant" => RecipientTarget::Participant(field("participant", RecipientCode::parse(&value))?),
                "group" if !value.is_empty() && value.len() <= 64 && !value.chars().any(char::is_control) => {
                    RecipientTarget::Group(value)
                }
                "group" => return Err(invalid(format!("<group> '{value}' is not a group id"))),
                other => return Err(invalid(format!("<{}> may hold <participant> or <group>, not <{other}>", r.name))),
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
        for f in root.child("files").expect("sequence checked").elements() {
            if f.name != "file" {
                return Err(invalid(format!("<files> may hold only <file>, not <{}>", f.name)));
            }
            expect_sequence(f, &["name", "mediaType", "size", "sha256"])?;
            let t = |n: &str| f.child(n).map(|e| e.text().trim().to_owned()).unwrap_or_default();
            let role = field("file role", f.attr("role").unwrap_or("").parse::<FileRole>())?;
            let name = FileName::parse(&t("name")).map_err(|e| FormatError::UnsafeName(format!("<name>: {e}")))?;
            let media_type = t("mediaType");
            if !valid_media_type(&media_type) {
                return Err(invalid(format!("<file> {name}: '{media_type}' is not a media type")));
            }
            let size = t("size")
                .parse::<u64>()
                .map_err(|_| invalid(format!("<file> {name}: size '{}' is not a number", t("size"))))?;
            let sha256 = field("sha256", Sha256::parse(&t("sha256")))?;
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
        if count(FileRole::Roster) > 1 {
            return Err(invalid("at most one <file role=\"roster\">".into()));
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
        let e = |s: &str| quick_xml::escape::escape(s).into_owned();
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

/// The element children of `el` are exactly `names`, in that order.
pub(super) fn expect_sequence(el: &Element, names: &[&str]) -> Result<(), FormatError> {
    let got: Vec<&str> = el.elements().map(|e| e.name.as_str()).collect();
    if got != names {
        return Err(FormatError::Invalid(format!(
            "<{}> must contain <{}> in this order; found <{}>",
            el.name,
            names.join(">, <"),
            got.join(">, <")
        )));
    }
    if el.has_text() {
        return Err(FormatError::Invalid(format!("<{}> must not contain text", el.name)));
    }
    Ok(())
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
