//! The national address book layout of the roster (DESIGN §3.5): a CSV of
//! `ORGID,ORGNAME,STATUSCODE,UPDATETIME`, one agency a line, as agency
//! document systems load their 機關 lists. The hub writes it (the roster's
//! `?format=national`) and reads it back (`POST /api/v1/roster/import`).
//!
//! STATUSCODE: `1` 使用中 (active), `2` 暫停 (suspended), `3` 裁撤或終止
//! (terminated). UPDATETIME: Asia/Taipei, `YYYY-MM-DD HH:MM:SS` (also read
//! with `/`, or empty). Files in UTF-8 (with or without a BOM) or Big5.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::FormatError;
use super::encoding::Charset;
use crate::domain::calendar::taipei;
use crate::domain::{ParticipantCode, ParticipantStatus};

pub const HEADER: [&str; 4] = ["ORGID", "ORGNAME", "STATUSCODE", "UPDATETIME"];
/// An address book of at most this size (the national one is a few MiB).
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// A national status code and the participant status it stands for.
pub fn status_code(s: ParticipantStatus) -> &'static str {
    match s {
        ParticipantStatus::Active | ParticipantStatus::Pending => "1",
        ParticipantStatus::Suspended => "2",
        ParticipantStatus::Terminated => "3",
    }
}

fn status_of(code: &str) -> Option<ParticipantStatus> {
    match code {
        "1" => Some(ParticipantStatus::Active),
        "2" => Some(ParticipantStatus::Suspended),
        "3" => Some(ParticipantStatus::Terminated),
        _ => None,
    }
}

/// UPDATETIME as the file writes it.
pub fn update_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&taipei()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One agency of an address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line it was on (the header is line 1).
    pub line: usize,
    pub code: ParticipantCode,
    pub name: String,
    pub status: ParticipantStatus,
    pub updated: Option<DateTime<Utc>>,
}

/// Reads an address book; every bad line is named (up to 20), and a file
/// with any is refused whole.
pub fn parse(bytes: &[u8]) -> Result<Vec<Row>, FormatError> {
    if bytes.len() > MAX_BYTES {
        return Err(FormatError::Invalid(format!("the address book is larger than {MAX_BYTES} bytes")));
    }
    let text = decode(bytes)?;
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let names: Vec<String> = fields(header).into_iter().map(|f| f.trim().to_ascii_uppercase()).collect();
    if names != HEADER {
        return Err(FormatError::Invalid(format!(
            "the first line must be {}, not '{}'",
            HEADER.join(","),
            header.chars().take(80).collect::<String>()
        )));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (line, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        match row(line, l) {
            Ok(r) if !seen.insert(r.code.clone()) => errors.push(format!("line {line}: {} appears twice", r.code)),
            Ok(r) => rows.push(r),
            Err(e) => errors.push(format!("line {line}: {e}")),
        }
    }
    if !errors.is_empty() {
        let more = if errors.len() > 20 { format!(" (and {} more)", errors.len() - 20) } else { String::new() };
        errors.truncate(20);
        return Err(FormatError::Invalid(format!("{}{more}", errors.join("; "))));
    }
    Ok(rows)
}

fn decode(bytes: &[u8]) -> Result<String, FormatError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Ok(t) = std::str::from_utf8(bytes) {
        return Ok(t.to_owned());
    }
    let (text, bad) = encoding_rs::BIG5.decode_without_bom_handling(bytes);
    if bad {
        return Err(FormatError::Invalid(format!(
            "the address book is neither {} nor {}",
            Charset::Utf8.as_str(),
            Charset::Big5.as_str()
        )));
    }
    Ok(text.into_owned())
}

fn row(line: usize, l: &str) -> Result<Row, String> {
    let f = fields(l);
    if f.len() != 4 {
        return Err(format!("{} fields, expected 4 ({})", f.len(), HEADER.join(",")));
    }
    let code = ParticipantCode::parse(f[0].trim()).map_err(|e| e.to_string())?;
    let name = crate::domain::participant::check_name(&f[1]).map_err(|e| e.to_string())?;
    let status = status_of(f[2].trim()).ok_or_else(|| format!("STATUSCODE '{}' is not 1, 2 or 3", f[2].trim()))?;
    let t = f[3].trim();
    let updated = if t.is_empty() {
        None
    } else {
        let n = NaiveDateTime::parse_from_str(&t.replace('/', "-"), "%Y-%m-%d %H:%M:%S")
            .map_err(|_| format!("UPDATETIME '{t}' is not YYYY-MM-DD HH:MM:SS"))?;
        Some(taipei().from_local_datetime(&n).single().expect("a fixed offset").with_timezone(&Utc))
    };
    Ok(Row { line, code, name, status, updated })
}

/// The fields of one CSV record (RFC 4180 quotes; a `'` the writer put
/// before a formula-like field is taken off).
fn fields(l: &str) -> Vec<String> {
    crate::domain::calendar::split_csv(l)
        .into_iter()
        .map(|f| f.strip_prefix('\'').map(str::to_owned).unwrap_or(f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes() {
        let csv = "\u{feff}ORGID,ORGNAME,STATUSCODE,UPDATETIME\r\n379130000C,臺北市政府資訊局,1,2026-12-01 09:30:00\r\n\
                   379100000G,\"臺北市政府秘書處, 文書科\",2,\r\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].code.as_str(), "379130000C");
        assert_eq!(rows[0].updated.map(update_time).as_deref(), Some("2026-12-01 09:30:00"));
        assert_eq!(rows[1].name, "臺北市政府秘書處, 文書科");
        assert_eq!(rows[1].status, ParticipantStatus::Suspended);
        let (big5, _, _) =
            encoding_rs::BIG5.encode("ORGID,ORGNAME,STATUSCODE,UPDATETIME\n379130000C,臺北市政府資訊局,1,\n");
        assert_eq!(parse(&big5).unwrap()[0].name, "臺北市政府資訊局");
    }

    #[test]
    fn names_every_bad_line() {
        let e = parse("ORGID,ORGNAME,STATUSCODE,UPDATETIME\n37913,x,1,\n379130000C,資訊局,7,\n379130000C,資訊局,1,\n379130000C,資訊局,1,\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2")
                && e.contains("line 3: STATUSCODE '7'")
                && e.contains("line 5: 379130000C appears twice"),
            "{e}"
        );
        assert!(parse(b"code,name\n").unwrap_err().to_string().contains("ORGID,ORGNAME"));
    }
}
