//! The character encodings of exchanged XML: UTF-8 (the default, with or
//! without a byte-order mark) and Big5 (national `_big5` files, declared
//! `encoding="big5"`). A package stays byte for byte as submitted, since the
//! signature covers those bytes; only the hub's parsed view is UTF-8.
//!
//! A file whose bytes are not in the encoding it declares is refused with
//! the encoding that failed and the line and column where it did, and a
//! hint when the bytes read as the other encoding (the usual mistake: a
//! Big5 export whose declaration says UTF-8, or the reverse).

use std::borrow::Cow;

use encoding_rs::{BIG5, DecoderResult, UTF_8};

/// Why a file cannot be read as text: the encoding, and where it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EncodingError(pub String);

/// The encodings the hub reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Big5,
}

impl Charset {
    pub fn as_str(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Big5 => "Big5",
        }
    }

    /// The charset an XML declaration's `encoding` names, by the WHATWG
    /// labels (`utf-8`, `utf8`, `big5`, `big5-hkscs`, `x-x-big5`, `cn-big5`…).
    pub fn from_label(label: &str) -> Option<Charset> {
        match encoding_rs::Encoding::for_label_no_replacement(label.trim().as_bytes()) {
            Some(e) if e == UTF_8 => Some(Charset::Utf8),
            Some(e) if e == BIG5 => Some(Charset::Big5),
            _ => None,
        }
    }
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// The text of `bytes` as UTF-8, by the declared encoding (none: UTF-8),
/// without the byte-order mark, and which charset it was.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Charset), EncodingError> {
    let (body, bom) = match bytes.strip_prefix(BOM) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    let declared = declared_encoding(body);
    let charset = match &declared {
        None => Charset::Utf8,
        Some(label) => Charset::from_label(label).ok_or_else(|| {
            EncodingError(format!("encoding '{label}' is not accepted: the hub reads UTF-8 and Big5"))
        })?,
    };
    let said = match &declared {
        Some(label) => format!("declares encoding=\"{label}\""),
        None => "declares no encoding, so UTF-8".to_owned(),
    };
    match charset {
        Charset::Utf8 => match std::str::from_utf8(body) {
            Ok(text) => Ok((Cow::Borrowed(text), charset)),
            Err(e) => {
                let ok = std::str::from_utf8(&body[..e.valid_up_to()]).expect("valid up to here");
                let hint = if decode_big5(body).is_ok() { "; it reads as Big5: declare encoding=\"big5\"" } else { "" };
                Err(EncodingError(format!(
                    "the file {said} but is not UTF-8 at {}{hint}",
                    position(ok, e.valid_up_to() + if bom { BOM.len() } else { 0 })
                )))
            }
        },
        Charset::Big5 => {
            if bom {
                return Err(EncodingError(format!(
                    "the file starts with a UTF-8 byte-order mark but {said}: it cannot be both"
                )));
            }
            match decode_big5(body) {
                Ok(text) => Ok((Cow::Owned(text), charset)),
                Err((decoded, at)) => {
                    let hint = if std::str::from_utf8(body).is_ok() {
                        "; it reads as UTF-8: declare encoding=\"UTF-8\""
                    } else {
                        ""
                    };
                    Err(EncodingError(format!("the file {said} but is not Big5 at {}{hint}", position(&decoded, at))))
                }
            }
        }
    }
}

/// Big5 to UTF-8, strictly; on failure, what decoded before the bad byte and
/// that byte's offset.
fn decode_big5(bytes: &[u8]) -> Result<String, (String, usize)> {
    let mut decoder = BIG5.new_decoder_without_bom_handling();
    let room = decoder.max_utf8_buffer_length_without_replacement(bytes.len()).unwrap_or(bytes.len() * 3 + 16);
    let mut out = String::with_capacity(room);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        DecoderResult::InputEmpty => Ok(out),
        DecoderResult::Malformed(bad, after) => Err((out, read - bad as usize - after as usize)),
        // The buffer was sized for the worst case.
        DecoderResult::OutputFull => Err((out, read)),
    }
}

/// `line L, column C (byte B)` of the character after `before`.
fn position(before: &str, byte: usize) -> String {
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column} (byte {byte})")
}

/// The `encoding` of an XML declaration at the start of `bytes`, read as
/// ASCII (the declaration is ASCII in every encoding the hub reads).
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.strip_prefix(b"<?xml")?;
    if !head.first().is_some_and(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let end = head.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big5(s: &str) -> Vec<u8> {
        let (bytes, _, bad) = BIG5.encode(s);
        assert!(!bad);
        bytes.into_owned()
    }

    #[test]
    fn reads_utf8_and_big5() {
        let (t, c) = decode("<?xml version=\"1.0\"?><函>臺北</函>".as_bytes()).unwrap();
        assert_eq!((t.as_ref(), c), ("<?xml version=\"1.0\"?><函>臺北</函>", Charset::Utf8));
        let (t, _) = decode(b"\xef\xbb\xbf<a/>").unwrap();
        assert_eq!(t, "<a/>");
        let b = big5("<?xml version=\"1.0\" encoding=\"Big5\"?>\n<函>臺北市政府</函>");
        let (t, c) = decode(&b).unwrap();
        assert_eq!(c, Charset::Big5);
        assert!(t.contains("<函>臺北市政府</函>"));
    }

    #[test]
    fn says_which_encoding_failed_where() {
        let mut b = big5("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<函>\n  <主旨>臺北市政府</主旨></函>");
        let e = decode(&b).unwrap_err().to_string();
        assert!(e.contains("not UTF-8 at line 2, column 2 (byte 40)"), "{e}");
        assert!(e.contains("reads as Big5"), "{e}");
        b = "<?xml version=\"1.0\" encoding=\"big5\"?>\n<函>臺北市政府</函>".as_bytes().to_vec();
        let e = decode(&b).unwrap_err().to_string();
        assert!(e.contains("not Big5 at line 2"), "{e}");
        assert!(e.contains("reads as UTF-8"), "{e}");
        let e = decode(b"<?xml version=\"1.0\" encoding=\"koi8-r\"?><a/>").unwrap_err().to_string();
        assert!(e.contains("UTF-8 and Big5"), "{e}");
        let mut bom_big5 = BOM.to_vec();
        bom_big5.extend(big5("<?xml version=\"1.0\" encoding=\"big5\"?><a/>"));
        assert!(decode(&bom_big5).unwrap_err().to_string().contains("byte-order mark"));
    }
}
