//! Attachment formats (§12-4, DESIGN §3.3): the hub looks at the content,
//! not the name. Allowed by default: ODF (by the zip `mimetype` entry), PDF,
//! TIFF, PNG, JPEG and plain text / XML; the file name's extension must fit
//! what the content is, so a renamed executable or a mislabelled file never
//! reaches a clerk's desktop.

use std::fmt;

/// What a file's first bytes say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    Tiff,
    Png,
    Jpeg,
    /// An ODF document; its `mimetype` entry.
    Odf(String),
    /// UTF-8 text without NUL bytes (plain text, XML, CSV).
    Text,
    Executable(&'static str),
    Zip,
    Unknown,
}

impl fmt::Display for Sniffed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sniffed::Pdf => f.write_str("a PDF document"),
            Sniffed::Tiff => f.write_str("a TIFF image"),
            Sniffed::Png => f.write_str("a PNG image"),
            Sniffed::Jpeg => f.write_str("a JPEG image"),
            Sniffed::Odf(m) => write!(f, "an ODF document ({m})"),
            Sniffed::Text => f.write_str("plain text"),
            Sniffed::Executable(kind) => write!(f, "an executable program ({kind})"),
            Sniffed::Zip => f.write_str("a zip archive that is not an ODF document"),
            Sniffed::Unknown => f.write_str("of an unrecognised format"),
        }
    }
}

/// How many leading bytes [`sniff`] needs.
pub const SNIFF_BYTES: usize = 512;

/// Identifies a file from its first bytes and whether the whole file was
/// valid UTF-8 text without NUL (tracked while it streamed in).
pub fn sniff(head: &[u8], is_text: bool) -> Sniffed {
    if head.starts_with(b"%PDF-") {
        Sniffed::Pdf
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Sniffed::Tiff
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Sniffed::Png
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Sniffed::Jpeg
    } else if head.starts_with(b"MZ") {
        Sniffed::Executable("Windows/DOS")
    } else if head.starts_with(b"\x7fELF") {
        Sniffed::Executable("ELF")
    } else if head.starts_with(&[0xCF, 0xFA, 0xED, 0xFE]) || head.starts_with(&[0xFE, 0xED, 0xFA, 0xCF]) {
        Sniffed::Executable("Mach-O")
    } else if head.starts_with(b"#!") {
        Sniffed::Executable("script")
    } else if head.starts_with(b"PK\x03\x04") {
        odf_mimetype(head).map(Sniffed::Odf).unwrap_or(Sniffed::Zip)
    } else if is_text {
        Sniffed::Text
    } else {
        Sniffed::Unknown
    }
}

/// The ODF rule: the zip's first entry is `mimetype`, stored uncompressed,
/// holding the document's media type.
fn odf_mimetype(head: &[u8]) -> Option<String> {
    let u16_at = |i: usize| head.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |i: usize| head.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let method = u16_at(8)?;
    let size = u32_at(18)?;
    let name_len = u16_at(26)?;
    let extra_len = u16_at(28)?;
    if method != 0 || head.get(30..30 + name_len)? != b"mimetype" || size > 100 {
        return None;
    }
    let start = 30 + name_len + extra_len;
    let m = std::str::from_utf8(head.get(start..start + size)?).ok()?;
    m.starts_with("application/vnd.oasis.opendocument.").then(|| m.to_owned())
}

/// File-name extensions that fit each allowed format.
fn extensions(s: &Sniffed) -> &'static [&'static str] {
    match s {
        Sniffed::Pdf => &["pdf"],
        Sniffed::Tiff => &["tif", "tiff"],
        Sniffed::Png => &["png"],
        Sniffed::Jpeg => &["jpg", "jpeg"],
        Sniffed::Odf(m) => match m.as_str() {
            "application/vnd.oasis.opendocument.text" => &["odt"],
            "application/vnd.oasis.opendocument.spreadsheet" => &["ods"],
            "application/vnd.oasis.opendocument.presentation" => &["odp"],
            "application/vnd.oasis.opendocument.graphics" => &["odg"],
            _ => &[],
        },
        Sniffed::Text => &["txt", "xml", "csv"],
        Sniffed::Executable(_) | Sniffed::Zip | Sniffed::Unknown => &[],
    }
}

/// Accepts the attachment `name` with content `sniffed`, or says why not.
pub fn check(name: &str, extension: Option<&str>, sniffed: &Sniffed) -> Result<(), String> {
    let allowed = extensions(sniffed);
    if allowed.is_empty() {
        return Err(format!(
            "{name} is {sniffed}; attachments must be ODF (.odt .ods .odp .odg), PDF, TIFF, PNG, JPEG or plain text/XML"
        ));
    }
    match extension {
        Some(ext) if allowed.contains(&ext) => Ok(()),
        _ => Err(format!("{name} is {sniffed} but its name says otherwise; name it .{}", allowed[0])),
    }
}

/// Tracks, chunk by chunk, whether a stream is UTF-8 text without NUL bytes.
#[derive(Debug, Default)]
pub struct TextCheck {
    carry: Vec<u8>,
    pub failed: bool,
}

impl TextCheck {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.failed {
            return;
        }
        if chunk.contains(&0) {
            self.failed = true;
            return;
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(chunk);
        match std::str::from_utf8(&buf) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => self.carry = buf[e.valid_up_to()..].to_vec(),
            Err(_) => self.failed = true,
        }
    }

    /// True when everything fed was text.
    pub fn finish(&self) -> bool {
        !self.failed && self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides() {
        assert_eq!(sniff(b"%PDF-1.4\n", false), Sniffed::Pdf);
        assert!(check("a.pdf", Some("pdf"), &Sniffed::Pdf).is_ok());
        let exe = sniff(b"MZ\x90\0", false);
        let err = check("report.pdf", Some("pdf"), &exe).unwrap_err();
        assert!(err.contains("executable"), "{err}");
        let err = check("a.odt", Some("odt"), &Sniffed::Pdf).unwrap_err();
        assert!(err.contains("name it .pdf"), "{err}");
        assert_eq!(sniff(b"hello", true), Sniffed::Text);
        assert_eq!(sniff(b"\x01\x02", false), Sniffed::Unknown);
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0\x08\0", false), Sniffed::Zip);
    }

    #[test]
    fn text_check_spans_chunks() {
        let s = "公文附件".as_bytes();
        let mut t = TextCheck::default();
        t.feed(&s[..2]);
        t.feed(&s[2..]);
        assert!(t.finish());
        let mut t = TextCheck::default();
        t.feed(b"abc\0def");
        assert!(!t.finish());
        let mut t = TextCheck::default();
        t.feed(&s[..2]);
        assert!(!t.finish(), "a truncated character is not text");
    }
}
