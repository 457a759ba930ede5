//! 交換表單: the SW recipient list agency systems export beside a DI
//! (`104_roster_utf8.dtd`): who receives the document, 正本 or 副本.

use super::FormatError;
use super::dtd;
use super::xml::{self, Limits};
use crate::domain::document::{RecipientCode, RecipientKind};

/// One recipient of an SW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// 全銜, 單位名 or the person's name, for people to read.
    pub name: String,
    pub code: RecipientCode,
    pub kind: RecipientKind,
    /// 含附件: whether the attachments go along (informational).
    pub with_attachments: bool,
}

/// An SW larger than this is refused (it lists tens of thousands of recipients).
pub const MAX_ROSTER_BYTES: usize = 4 * 1024 * 1024;

pub fn parse(bytes: &[u8]) -> Result<Vec<RosterEntry>, FormatError> {
    let doc = xml::parse(bytes, Limits { max_bytes: MAX_ROSTER_BYTES, max_elements: 200_000, ..Limits::default() })
        .map_err(FormatError::from_xml)?;
    if doc.root.name != "交換表單" {
        return Err(FormatError::Invalid(format!("an SW's root is <交換表單>, not <{}>", doc.root.name)));
    }
    if doc.doctype.as_ref().is_some_and(|d| !d.entities.is_empty()) {
        return Err(FormatError::Invalid("an SW declares no entities".into()));
    }
    dtd::validate(&doc.root)?;

    // The content model is a flat repetition in which every entry starts
    // with a name element (姓名, 全銜 or 單位名) followed by its codes.
    let mut entries: Vec<RosterEntry> = Vec::new();
    for el in doc.root.elements() {
        let text = el.text().trim().to_owned();
        match el.name.as_str() {
            "姓名" | "全銜" | "單位名" => entries.push(RosterEntry {
                name: text,
                code: RecipientCode::parse("0000000000").expect("placeholder until 機關代碼"),
                kind: RecipientKind::Original,
                with_attachments: false,
            }),
            "機關代碼" | "單位代碼" => {
                let e = entries.last_mut().expect("content model: a name precedes the code");
                let code =
                    if el.name == "機關代碼" { text.clone() } else { format!("{}{}", e.code.participant, text) };
                e.code = RecipientCode::parse(&code)
                    .map_err(|err| FormatError::Invalid(format!("交換表單 entry {}: {err}", e.name)))?;
            }
            "含附件" => entries.last_mut().expect("content model").with_attachments = !text.is_empty(),
            "本別" => {
                let kind = el.child("收發處理本別").and_then(|k| k.attr("代碼")).unwrap_or("正本");
                entries.last_mut().expect("content model").kind = match kind {
                    "正本" => RecipientKind::Original,
                    "副本" => RecipientKind::Copy,
                    other => {
                        return Err(FormatError::Invalid(format!("本別 {other}: only 正本 and 副本 are exchanged")));
                    }
                };
            }
            _ => {}
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_recipients_and_their_kind() {
        let sw = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE 交換表單 SYSTEM "104_roster_utf8.dtd">
<交換表單>
  <全銜>臺北市政府秘書處</全銜><機關代碼>379100000G</機關代碼><本別><收發處理本別 代碼="正本"/></本別>
  <全銜>臺北市政府研究發展考核委員會</全銜><機關代碼>379200000A</機關代碼><含附件>含附件</含附件><本別><收發處理本別 代碼="副本"/></本別>
  <單位名>教育局秘書室</單位名><機關代碼>379030000W</機關代碼><單位代碼>0100000</單位代碼>
</交換表單>"#;
        let r = parse(sw.as_bytes()).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].code.to_string(), r[0].kind), ("379100000G".into(), RecipientKind::Original));
        assert_eq!(
            (r[1].code.to_string(), r[1].kind, r[1].with_attachments),
            ("379200000A".into(), RecipientKind::Copy, true)
        );
        assert_eq!(r[2].code.to_string(), "379030000W0100000");
        assert_eq!(r[2].code.participant.as_str(), "379030000W");
    }
}
