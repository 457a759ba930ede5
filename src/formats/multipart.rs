//! `multipart/form-data` (RFC 7578, RFC 2046 §5.1) read as it arrives: a
//! part's headers, then its bytes in chunks, then the next part. Time is
//! linear in the input (no part of it is searched twice), a part's header
//! block and the number of parts are bounded, and nothing but the bytes not
//! yet known to be data is held.
//!
//! ```ignore
//! let mut r = Reader::new(&boundary(content_type)?, Limits { max_header_bytes: 16384, max_parts: 500 });
//! loop {
//!     match r.next_event()? {
//!         Some(Event::Part(head)) => …, Some(Event::Data(bytes)) => …, Some(Event::End) => break,
//!         None => match body.next().await { Some(chunk) => r.feed(&chunk), None => r.finish_input() },
//!     }
//! }
//! ```

use bytes::{Bytes, BytesMut};
use memchr::memmem;

/// How much of a body one reader accepts besides the parts' bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A part's header block, CRLFs included.
    pub max_header_bytes: usize,
    pub max_parts: usize,
}

/// What a part's headers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHead {
    /// `Content-Disposition: form-data; name="…"`.
    pub name: Option<String>,
    /// `filename="…"`, or `filename*=UTF-8''…` (which wins).
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A part begins (and the one before it, if any, has ended).
    Part(PartHead),
    /// Bytes of the current part.
    Data(Bytes),
    /// The closing boundary: the last part has ended.
    End,
}

/// Why a body is not `multipart/form-data` the hub reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn malformed<T>(why: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(why.into()))
}

/// The boundary a `Content-Type` header gives, or why there is none.
pub fn boundary(content_type: Option<&str>) -> Result<String, Malformed> {
    let Some(ct) = content_type else { return malformed("no Content-Type: a package is multipart/form-data") };
    let (essence, params) = ct.split_once(';').unwrap_or((ct, ""));
    if !essence.trim().eq_ignore_ascii_case("multipart/form-data") {
        return malformed(format!("Content-Type is {}, not multipart/form-data", essence.trim()));
    }
    let boundary = parameters(params)?
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .unwrap_or_default();
    // RFC 2046: 1 to 70 characters, none of them a control character.
    if boundary.is_empty() || boundary.len() > 70 || boundary.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return malformed("the multipart/form-data boundary is missing or not 1 to 70 ASCII characters");
    }
    Ok(boundary)
}

/// `; key=value; key="quoted \" value"` → pairs (keys as written).
fn parameters(s: &str) -> Result<Vec<(String, String)>, Malformed> {
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches([' ', '\t', ';']);
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            return malformed(format!("a header parameter without a value: {rest:?}"));
        };
        let key = key.trim().to_owned();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => return malformed("an unterminated quoted header parameter"),
                    },
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => value.push(c),
                    None => return malformed("an unterminated quoted header parameter"),
                }
            };
            (value, &q[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((key, value));
        rest = tail.trim_start_matches([' ', '\t']);
        match rest.strip_prefix(';') {
            Some(r) => rest = r.trim_start_matches([' ', '\t', ';']),
            None if rest.is_empty() => {}
            None => return malformed(format!("unexpected text in a header: {rest:?}")),
        }
    }
    Ok(out)
}

/// RFC 8187 `UTF-8''%E5%85%AC…`; other charsets are refused.
fn extended_value(v: &str) -> Result<String, Malformed> {
    let mut it = v.splitn(3, '\'');
    let (charset, _lang, encoded) = (it.next().unwrap_or(""), it.next(), it.next());
    let Some(encoded) = encoded else { return malformed(format!("filename* is not charset'lang'value: {v:?}")) };
    if !charset.eq_ignore_ascii_case("utf-8") {
        return malformed(format!("filename* in charset {charset}: only UTF-8 is read"));
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => out.push(b),
                None => return malformed(format!("a bad percent escape in filename*: {v:?}")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).or_else(|_| malformed("filename* is not UTF-8"))
}

fn part_head(block: &[u8]) -> Result<PartHead, Malformed> {
    let Ok(text) = std::str::from_utf8(block) else { return malformed("a part's headers are not UTF-8") };
    let mut head = PartHead::default();
    let mut disposition = false;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return malformed(format!("a part header line without a colon: {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            let (kind, params) = value.split_once(';').unwrap_or((value, ""));
            if !kind.trim().eq_ignore_ascii_case("form-data") {
                return malformed(format!("a part's Content-Disposition is {}, not form-data", kind.trim()));
            }
            disposition = true;
            let mut plain = None;
            for (k, v) in parameters(params)? {
                match k.to_ascii_lowercase().as_str() {
                    "name" => head.name = Some(v),
                    "filename" => plain = Some(v),
                    "filename*" => head.filename = Some(extended_value(&v)?),
                    _ => {}
                }
            }
            if head.filename.is_none() {
                head.filename = plain;
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(value.to_owned());
        }
    }
    if !disposition {
        return malformed("a part without Content-Disposition: form-data");
    }
    Ok(head)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first boundary.
    Preamble,
    /// Just after a boundary: `--` ends the body, CRLF starts a part.
    AfterBoundary,
    Headers,
    Body,
    Done,
}

/// Longest preamble accepted before the first boundary.
const MAX_PREAMBLE: usize = 64 * 1024;
/// Longest boundary line tail (transport padding) accepted.
const MAX_PADDING: usize = 256;

pub struct Reader {
    /// `CRLF--boundary`.
    delimiter: Vec<u8>,
    finder: memmem::Finder<'static>,
    buf: BytesMut,
    state: State,
    /// In `Headers`: bytes of `buf` already searched for the blank line.
    scanned: usize,
    /// Bytes of preamble dropped so far.
    preamble: usize,
    parts: usize,
    limits: Limits,
    eof: bool,
}

impl Reader {
    pub fn new(boundary: &str, limits: Limits) -> Reader {
        let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
        let finder = memmem::Finder::new(&delimiter).into_owned();
        // The first boundary may open the body without a CRLF before it.
        let mut buf = BytesMut::with_capacity(16 * 1024);
        buf.extend_from_slice(b"\r\n");
        Reader { delimiter, finder, buf, state: State::Preamble, scanned: 0, preamble: 0, parts: 0, limits, eof: false }
    }

    /// More of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.state != State::Done {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// The body has ended.
    pub fn finish_input(&mut self) {
        self.eof = true;
    }

    /// The next event, `None` when more input is needed (or after `End`).
    pub fn next_event(&mut self) -> Result<Option<Event>, Malformed> {
        loop {
            match self.state {
                State::Done => {
                    self.buf.clear();
                    return Ok(None);
                }
                State::Preamble => match self.finder.find(&self.buf) {
                    Some(i) => {
                        let _ = self.buf.split_to(i + self.delimiter.len());
                        self.state = State::AfterBoundary;
                    }
                    None => {
                        let keep = self.delimiter.len() - 1;
                        if self.buf.len() > keep {
                            self.preamble += self.buf.len() - keep;
                            let _ = self.buf.split_to(self.buf.len() - keep);
                        }
                        if self.preamble > MAX_PREAMBLE || self.eof {
                            return malformed("the body does not contain the boundary its Content-Type gives");
                        }
                        return Ok(None);
                    }
                },
                State::AfterBoundary => {
                    if self.buf.len() < 2 {
                        return self.need("the body ends just after a boundary");
                    }
                    if self.buf.starts_with(b"--") {
                        self.state = State::Done;
                        return Ok(Some(Event::End));
                    }
                    let Some(crlf) = memmem::find(&self.buf[..self.buf.len().min(MAX_PADDING + 2)], b"\r\n") else {
                        if self.buf.len() > MAX_PADDING {
                            return malformed("a boundary line goes on after the boundary");
                        }
                        return self.need("the body ends inside a boundary line");
                    };
                    if !self.buf[..crlf].iter().all(|b| *b == b' ' || *b == b'\t') {
                        return malformed("a boundary line goes on after the boundary");
                    }
                    let _ = self.buf.split_to(crlf + 2);
                    self.parts += 1;
                    if self.parts > self.limits.max_parts {
                        return malformed(format!("the package has more than {} parts", self.limits.max_parts));
                    }
                    self.state = State::Headers;
                    self.scanned = 0;
                }
                State::Headers => {
                    // A part without headers: the blank line comes at once.
                    let end = if self.buf.starts_with(b"\r\n") {
                        Some(0)
                    } else {
                        let from = self.scanned.saturating_sub(3);
                        memmem::find(&self.buf[from..], b"\r\n\r\n").map(|i| from + i + 2)
                    };
                    let Some(end) = end else {
                        self.scanned = self.buf.len();
                        if self.buf.len() > self.limits.max_header_bytes {
                            return self.too_long_headers();
                        }
                        return self.need("the body ends inside a part's headers");
                    };
                    if end + 2 > self.limits.max_header_bytes {
                        return self.too_long_headers();
                    }
                    let block = self.buf.split_to(end + 2);
                    self.state = State::Body;
                    return Ok(Some(Event::Part(part_head(&block[..end])?)));
                }
                State::Body => match self.finder.find(&self.buf) {
                    Some(0) => {
                        let _ = self.buf.split_to(self.delimiter.len());
                        self.state = State::AfterBoundary;
                    }
                    Some(i) => return Ok(Some(Event::Data(self.buf.split_to(i).freeze()))),
                    None => {
                        // The tail may be the start of the delimiter.
                        let safe = self.buf.len().saturating_sub(self.delimiter.len() - 1);
                        if safe > 0 {
                            return Ok(Some(Event::Data(self.buf.split_to(safe).freeze())));
                        }
                        return self.need("the body ends inside a part, without its closing boundary");
                    }
                },
            }
        }
    }

    fn need(&self, at_eof: &str) -> Result<Option<Event>, Malformed> {
        if self.eof { malformed(at_eof) } else { Ok(None) }
    }

    fn too_long_headers(&self) -> Result<Option<Event>, Malformed> {
        malformed(format!("a part's headers exceed {} bytes", self.limits.max_header_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_header_bytes: 1024, max_parts: 10 };

    /// Reads `body` fed in pieces of `piece` bytes: the parts as (head, bytes).
    fn read(body: &[u8], piece: usize, limits: Limits) -> Result<Vec<(PartHead, Vec<u8>)>, Malformed> {
        let mut r = Reader::new("XX", limits);
        let mut input = body.chunks(piece.max(1));
        let mut parts: Vec<(PartHead, Vec<u8>)> = Vec::new();
        loop {
            match r.next_event()? {
                Some(Event::Part(h)) => parts.push((h, Vec::new())),
                Some(Event::Data(d)) => parts.last_mut().expect("data after a part").1.extend_from_slice(&d),
                Some(Event::End) => return Ok(parts),
                None => match input.next() {
                    Some(c) => r.feed(c),
                    None => r.finish_input(),
                },
            }
        }
    }

    const BODY: &[u8] = b"preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n<e/>\r\n\
        --XX  \r\ncontent-disposition: form-data; name=attachment; filename=\"a \\\"b\\\".pdf\"\r\n\
        Content-Type: application/pdf\r\n\r\n%PDF\r\n--X not yet\r\n--XX--\r\nepilogue";

    #[test]
    fn every_split_of_the_input_reads_the_same_parts() {
        let whole = read(BODY, BODY.len(), LIMITS).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].0.name.as_deref(), Some("envelope"));
        assert_eq!(whole[0].1, b"<e/>");
        assert_eq!(whole[1].0.filename.as_deref(), Some("a \"b\".pdf"));
        assert_eq!(whole[1].0.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(whole[1].1, b"%PDF\r\n--X not yet");
        for piece in 1..BODY.len() {
            assert_eq!(read(BODY, piece, LIMITS).unwrap(), whole, "fed {piece} bytes at a time");
        }
    }

    #[test]
    fn a_utf8_extended_filename_wins_over_the_plain_one() {
        let body = "--XX\r\nContent-Disposition: form-data; name=attachment; filename=\"x.pdf\"; \
            filename*=UTF-8''%E5%85%AC%E6%96%87.pdf\r\n\r\n1\r\n--XX--";
        let parts = read(body.as_bytes(), 5, LIMITS).unwrap();
        assert_eq!(parts[0].0.filename.as_deref(), Some("公文.pdf"));
    }

    #[test]
    fn boundaries_come_from_the_content_type() {
        assert_eq!(boundary(Some("multipart/form-data; boundary=abc")).unwrap(), "abc");
        assert_eq!(boundary(Some("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"")).unwrap(), "a b");
        for bad in [None, Some("text/plain"), Some("multipart/form-data"), Some("multipart/form-data; boundary=")] {
            assert!(boundary(bad).is_err(), "{bad:?}");
        }
        assert!(boundary(Some("multipart/form-data; boundary=\"open")).is_err());
    }

    #[test]
    fn truncated_or_foreign_bodies_are_malformed() {
        let cases: [(&[u8], &str); 5] = [
            (b"--XX\r\nContent-Disposition: form-data; name=a\r\n\r\nno end", "without its closing boundary"),
            (b"--XX\r\nContent-Disposition: form-data; name=a\r\n", "inside a part's headers"),
            (b"--YY\r\n\r\n--YY--", "does not contain the boundary"),
            (b"--XX\r\nX-Other: 1\r\n\r\n\r\n--XX--", "without Content-Disposition"),
            (b"--XXjunk\r\n", "goes on after the boundary"),
        ];
        for (body, why) in cases {
            let e = read(body, 3, LIMITS).unwrap_err();
            assert!(e.0.contains(why), "{e} for {:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn headers_and_parts_are_bounded() {
        let mut long = b"--XX\r\nContent-Disposition: form-data; name=a; x=\"".to_vec();
        long.resize(long.len() + 5000, b'y');
        let e = read(&long, 64, LIMITS).unwrap_err();
        assert!(e.0.contains("headers exceed 1024 bytes"), "{e}");
        let many = "--XX\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n".repeat(11) + "--XX--";
        let e = read(many.as_bytes(), 100, LIMITS).unwrap_err();
        assert!(e.0.contains("more than 10 parts"), "{e}");
    }

    #[test]
    fn a_huge_header_costs_time_linear_in_what_was_read() {
        // 50 MB of header fed 16 KiB at a time is refused as soon as the cap
        // is passed: the reader never holds or searches more than that.
        let mut r = Reader::new("XX", Limits { max_header_bytes: 16 * 1024, max_parts: 10 });
        r.feed(b"--XX\r\nContent-Disposition: form-data; name=a; x=\"");
        let chunk = vec![b'y'; 16 * 1024];
        let mut fed = 0;
        let refused = loop {
            match r.next_event() {
                Err(e) => break e,
                Ok(_) => {
                    r.feed(&chunk);
                    fed += chunk.len();
                    assert!(fed < 50 << 20, "never refused");
                }
            }
        };
        assert!(refused.0.contains("headers exceed"), "{refused}");
        assert!(fed <= 32 * 1024, "refused after {fed} bytes");
    }
}
