//! Types of the official document (公文) as the exchange sees it.

use std::fmt;

use super::participant::named_enum;
use super::{Invalid, ParticipantCode};

named_enum!(
    /// 公文類別: the kinds of 公文 the hub exchanges (national-dtd/KINDS.md);
    /// 書函 is a 函 whose 函類別 says so.
    DocumentKind, "公文類別" {
        Order = "令",
        Letter = "函",
        BriefLetter = "書函",
        Announcement = "公告",
        MeetingNotice = "開會通知單",
        InspectionNotice = "會勘通知單",
        Memo = "簽",
        ReviewSheet = "簽稿會核單",
    }
);

impl DocumentKind {
    /// What the clerk reads as the subject.
    pub fn subject_label(self) -> &'static str {
        match self {
            DocumentKind::MeetingNotice => "開會事由",
            DocumentKind::InspectionNotice => "會勘事由",
            DocumentKind::ReviewSheet => "案情摘要",
            _ => "主旨",
        }
    }
}

named_enum!(
    /// 速別: how urgent the document is.
    Speed, "速別" {
        Fastest = "最速件",
        Fast = "速件",
        Normal = "普通件",
    }
);

named_enum!(
    /// 密等: classification. Only `普通` may be exchanged electronically (§6).
    Classification, "密等" {
        Ordinary = "普通",
        Confidential = "密",
        Secret = "機密",
        TopSecret = "極機密",
        Absolute = "絕對機密",
    }
);

impl Classification {
    pub fn is_confidential(self) -> bool {
        self != Classification::Ordinary
    }
}

named_enum!(
    /// The multipart part names of a package (DESIGN §3).
    PartName, "part name" {
        /// The exchange envelope.
        Envelope = "envelope",
        /// The detached CMS signature over the envelope.
        Signature = "signature",
        /// The 公文 DI.
        Document = "document",
        /// An attachment, the SW or the DM.
        Attachment = "attachment",
    }
);

named_enum!(
    /// 本別 of a recipient: 正本 (original) or 副本 (copy).
    RecipientKind, "本別" {
        Original = "original",
        Copy = "copy",
    }
);

impl RecipientKind {
    /// The name used in 公文: 正本 or 副本.
    pub fn zh(self) -> &'static str {
        match self {
            RecipientKind::Original => "正本",
            RecipientKind::Copy => "副本",
        }
    }
}

/// A recipient's code as written in a 交換表單 or envelope: the 10-character
/// agency code, optionally followed by a 7-character unit code (17 in all).
/// Delivery goes to the participant of the agency code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipientCode {
    pub participant: ParticipantCode,
    pub unit: Option<String>,
}

impl RecipientCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        match s.len() {
            10 => Ok(RecipientCode { participant: ParticipantCode::parse(s)?, unit: None }),
            17 if s.is_char_boundary(10) => {
                let unit = &s[10..];
                if !unit.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(Invalid::new(
                        "recipient code",
                        format!("unit code '{unit}' must be 7 letters or digits"),
                    ));
                }
                Ok(RecipientCode { participant: ParticipantCode::parse(&s[..10])?, unit: Some(unit.to_owned()) })
            }
            _ => Err(Invalid::new(
                "recipient code",
                format!("'{s}' must be a 10-character agency code, optionally with a 7-character unit code"),
            )),
        }
    }
}

impl fmt::Display for RecipientCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.participant, self.unit.as_deref().unwrap_or(""))
    }
}

/// A file name inside a package: no path, no control characters, at most
/// 255 bytes (DESIGN §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct FileName(String);

impl FileName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = |why: &str| Err(Invalid::new("file name", format!("'{}': {why}", s.escape_debug())));
        if s.is_empty() || s.trim().is_empty() {
            return bad("empty");
        }
        if s.len() > 255 {
            return bad("longer than 255 bytes");
        }
        if s.contains(['/', '\\']) {
            return bad("contains a path separator");
        }
        if s.chars().any(|c| c.is_control()) {
            return bad("contains control characters");
        }
        if s == "." || s == ".." || s.starts_with(' ') || s.ends_with([' ', '.']) {
            return bad("not a plain file name");
        }
        Ok(FileName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-case extension, if any.
    pub fn extension(&self) -> Option<String> {
        self.0.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SHA-256 digest as 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
pub struct Sha256(String);

impl TryFrom<String> for Sha256 {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Sha256::parse(&s)
    }
}

impl Sha256 {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(Invalid::new("sha256", format!("'{s}' is not 64 lower-case hex digits")));
        }
        Ok(Sha256(s.to_owned()))
    }

    pub fn of(bytes: &[u8]) -> Self {
        Sha256(hex::encode(openssl::sha::sha256(bytes)))
    }

    pub fn from_digest(d: [u8; 32]) -> Self {
        Sha256(hex::encode(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 發文字號: 字 + 文號 (年度, 流水號, 支號), written `{字}第{年度}{流水號}{支號}號`,
/// e.g. `北市資綜字第1153012345號`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentNumber {
    pub word: String,
    pub year: String,
    pub serial: String,
    pub branch: String,
}

impl DocumentNumber {
    pub fn new(word: &str, year: &str, serial: &str, branch: &str) -> Result<Self, Invalid> {
        let (word, year, serial, branch) = (word.trim(), year.trim(), serial.trim(), branch.trim());
        if word.is_empty() || word.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
            return Err(Invalid::new("發文字號", format!("字 '{word}' must be non-empty text without digits")));
        }
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year) || year.len() > 3 {
            return Err(Invalid::new("發文字號", format!("年度 '{year}' must be a 民國 year of up to 3 digits")));
        }
        if !digits(serial) || serial.len() > 10 {
            return Err(Invalid::new("發文字號", format!("流水號 '{serial}' must be digits")));
        }
        if !branch.is_empty() && (!digits(branch) || branch.len() > 5) {
            return Err(Invalid::new("發文字號", format!("支號 '{branch}' must be digits")));
        }
        Ok(DocumentNumber { word: word.into(), year: year.into(), serial: serial.into(), branch: branch.into() })
    }
}

impl DocumentNumber {
    /// A 簽's 文號: 年度, 流水號 and 支號 without a 字, written `第{…}號`.
    pub fn without_word(year: &str, serial: &str, branch: &str) -> Result<Self, Invalid> {
        let mut n = DocumentNumber::new("文", year, serial, branch)?;
        n.word.clear();
        Ok(n)
    }
}

impl fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}第{}{}{}號", self.word, self.year, self.serial, self.branch)
    }
}

/// A document number as the envelope carries it: the written form, checked
/// for shape only (the DI gives the parts).
pub fn check_document_number(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    let ok = s.chars().count() <= 64
        && s.strip_suffix('號').and_then(|r| r.rsplit_once('第')).is_some_and(|(word, digits)| {
            // A 簽's 文號 has no 字.
            !word.chars().any(|c| c.is_ascii_digit() || c.is_control())
                && digits.len() >= 2
                && digits.bytes().all(|b| b.is_ascii_digit())
        });
    if !ok {
        return Err(Invalid::new("documentNumber", format!("'{s}' is not a 發文字號 like 北市資綜字第1153012345號")));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_codes_with_and_without_unit() {
        let r = RecipientCode::parse("379130000C").unwrap();
        assert_eq!(r.participant.as_str(), "379130000C");
        let r = RecipientCode::parse("379130000C0100000").unwrap();
        assert_eq!(r.unit.as_deref(), Some("0100000"));
        assert_eq!(r.to_string(), "379130000C0100000");
        assert!(RecipientCode::parse("379130000C01").is_err());
    }

    #[test]
    fn file_names_are_plain() {
        assert!(FileName::parse("1150003012_ATTCH1.pdf").is_ok());
        assert!(FileName::parse("附件一.odt").is_ok());
        for bad in ["../etc/passwd", "a/b.pdf", "a\\b.pdf", "", "..", "x\u{0}.pdf", "bell\u{7}.pdf", &"x".repeat(256)] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(FileName::parse("A.PDF").unwrap().extension().as_deref(), Some("pdf"));
    }

    #[test]
    fn document_numbers() {
        let n = DocumentNumber::new("北市資綜字", "115", "3012345", "").unwrap();
        assert_eq!(n.to_string(), "北市資綜字第1153012345號");
        assert!(DocumentNumber::new("北市資綜字", "2026", "1", "").is_err());
        assert!(check_document_number("北市資綜字第1153012345號").is_ok());
        assert!(check_document_number("12345").is_err());
        let memo = DocumentNumber::without_word("115", "0000123", "").unwrap();
        assert_eq!(memo.to_string(), "第1150000123號");
        assert!(check_document_number(&memo.to_string()).is_ok());
    }

    #[test]
    fn classification() {
        assert!(!"普通".parse::<Classification>().unwrap().is_confidential());
        assert!("機密".parse::<Classification>().unwrap().is_confidential());
        assert_eq!("速件".parse::<Speed>().unwrap(), Speed::Fast);
    }
}
