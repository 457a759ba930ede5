//! The 公文 itself: a DI file of the national format (DESIGN §3.2, §3.5)
//! of any exchangeable kind — 令, 函 (書函), 公告, 開會通知單, 會勘通知單,
//! 簽, 簽稿會核單 — in UTF-8 or Big5, 104 or 99 version; read safely,
//! validated against its kind's content model, then reduced to what the
//! exchange needs (issuer, date, number, speed, classification, subject,
//! the files its DOCTYPE declares) and to what a clerk reads.

use chrono::NaiveDate;

use super::FormatError;
use super::dtd::{self, LETTER_KINDS};
use super::xml::{self, Charset, Element, Limits, UnparsedEntity};
use crate::domain::document::{Classification, DocumentKind, DocumentNumber, Speed};

/// A DI of at most this size; attachments travel beside it.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// The roots the hub exchanges, with the kind code of their national DTD
/// file names (`104_2_utf8.dtd` is 函's).
const ROOTS: &[(&str, &str)] = &[
    ("令", "1"),
    ("函", "2"),
    ("公告", "3"),
    ("開會通知單", "4"),
    ("會勘通知單", "B"),
    ("簽", "5"),
    ("簽稿會核單", "6"),
];

/// The notation of a 文書訊息表單 (DM) entity.
pub const MESSAGE_NOTATION: &str = "DM";

/// What the exchange takes from a DI, and what a clerk reads of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficialDocument {
    pub kind: DocumentKind,
    /// The encoding the DI is in.
    pub charset: Charset,
    /// 發文機關 (發文機關或單位 of a 簽): 全銜 (or 單位名) and 機關代碼 of the first.
    pub issuer_name: String,
    pub issuer_code: String,
    /// 發文日期 (a 簽's 年月日); a 簽稿會核單 has none.
    pub date: Option<NaiveDate>,
    /// The date as written, e.g. 中華民國115年11月20日.
    pub date_text: String,
    /// 發文字號 (a 簽's 文號, a 簽稿會核單's 收文字號).
    pub number: DocumentNumber,
    /// Missing 速別 reads as 普通件.
    pub speed: Speed,
    /// Empty 密等 reads as 普通.
    pub classification: Classification,
    /// 主旨, 開會事由, 會勘事由 or 案情摘要, as a person reads it.
    pub subject: String,
    /// 受文者 as written: a name, or the 交換表's text (如正副本行文單位).
    pub addressee: String,
    /// 受文者's 機關代碼 (+ 單位代碼) when it names one agency directly.
    pub addressee_code: Option<String>,
    /// 地址 and 聯絡方式 (or 聯絡人及電話), one line each.
    pub address: String,
    pub contacts: Vec<String>,
    /// 開會時間/地點, 主持人, 出席者, 列席者 of a meeting or inspection notice.
    pub meeting: Option<Meeting>,
    /// 段落 in order, then 備註 of a notice.
    pub paragraphs: Vec<Paragraph>,
    pub remarks: Option<Paragraph>,
    /// 附件/文字: 如文, or the download area's text.
    pub attachment_note: String,
    /// 正本 and 副本 names, for people to read.
    pub originals: Vec<String>,
    pub copies: Vec<String>,
    /// 署名 lines; a 簽's 敬陳 (職稱 姓名).
    pub signatures: Vec<String>,
    pub presented_to: Vec<String>,
    /// A 簽稿會核單's 承辦單位 and 會辦單位.
    pub handling_unit: String,
    pub co_units: Vec<String>,
    /// Unparsed entities the DOCTYPE declares, in order.
    pub entities: Vec<UnparsedEntity>,
    /// The entity named by `受文者/交換表/@交換表單`: the SW recipient list.
    pub roster_entity: Option<String>,
    /// The entity of notation DM: the 文書訊息表單.
    pub message_entity: Option<String>,
    /// Entity names listed by `附件/附件檔名/@附件名`.
    pub attachment_entities: Vec<String>,
}

/// When and where a notice's meeting (or inspection) is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meeting {
    /// Each 開會時間 as read: 中華民國115年12月10日（星期四）上午10時.
    pub times: Vec<String>,
    pub place: String,
    pub chair: Vec<String>,
    pub attendees: Vec<String>,
    pub observers: Vec<String>,
}

/// A 段落 (or 條列): its label (段名 說明：, 序號 一、), its text, its items.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paragraph {
    pub label: String,
    pub text: String,
    pub items: Vec<Paragraph>,
}

impl OfficialDocument {
    pub fn parse(bytes: &[u8]) -> Result<OfficialDocument, FormatError> {
        let limits = Limits { max_bytes: MAX_DOCUMENT_BYTES, ..Limits::default() };
        let doc = xml::parse(bytes, limits).map_err(FormatError::from_xml)?;
        let root = &doc.root;
        let invalid = |m: String| FormatError::Invalid(m);
        let Some((_, code)) = ROOTS.iter().find(|(name, _)| *name == root.name) else {
            return Err(invalid(format!(
                "<{}> is not a kind of 公文 the hub exchanges; it exchanges 令, 函 (and 書函), 公告, 開會通知單, \
                 會勘通知單, 簽 and 簽稿會核單",
                root.name
            )));
        };
        if let Some(system_id) = doc.doctype.as_ref().and_then(|d| d.system_id.as_deref()) {
            check_dtd_name(system_id, &root.name, code)?;
        }
        dtd::validate(root)?;
        let entities = doc.doctype.map(|d| d.entities).unwrap_or_default();

        let kind = match root.name.as_str() {
            "函" => {
                let kind = root.child("函類別").and_then(|e| e.attr("代碼")).unwrap_or("函");
                if !LETTER_KINDS.contains(&kind) {
                    return Err(invalid(format!(
                        "函類別 '{kind}' is not exchanged here (accepted: {})",
                        LETTER_KINDS.join(", ")
                    )));
                }
                kind.parse::<DocumentKind>().expect("a letter kind")
            }
            other => other.parse::<DocumentKind>().expect("one of ROOTS"),
        };
        let issuer = root.child("發文機關").or_else(|| root.child("發文機關或單位")).expect("content model");
        let issuer_name = read(issuer.child("全銜").or_else(|| issuer.child("單位名")));
        let issuer_code = read(issuer.child("機關代碼"));

        let date_el = match kind {
            DocumentKind::Memo => root.child("年月日"),
            DocumentKind::ReviewSheet => None,
            _ => root.child("發文日期").and_then(|d| d.child("年月日")),
        };
        let date_text = read(date_el);
        let date =
            match date_el {
                Some(_) => Some(parse_roc_date(&date_text).ok_or_else(|| {
                    invalid(format!("發文日期 '{date_text}' is not a date like 中華民國115年11月20日"))
                })?),
                None => None,
            };

        let number = match kind {
            DocumentKind::Memo => {
                let serial = root.child("文號").ok_or_else(|| {
                    invalid("a 簽 is exchanged with its 文號 (年度, 流水號); this one has none".into())
                })?;
                DocumentNumber::without_word(
                    &read(serial.child("年度")),
                    &read(serial.child("流水號")),
                    &read(serial.child("支號")),
                )
            }
            DocumentKind::ReviewSheet => {
                let n = root.child("收文字號").filter(|n| n.child("文號").is_some()).ok_or_else(|| {
                    invalid("a 簽稿會核單 is exchanged with its 收文字號 (字, 文號); this one has none".into())
                })?;
                worded_number(n)
            }
            _ => {
                let n = root
                    .children_named("發文字號")
                    .find(|n| n.child("文號").is_some())
                    .ok_or_else(|| invalid("發文字號 needs 字 and 文號 (年度, 流水號, 支號)".into()))?;
                worded_number(n)
            }
        }
        .map_err(|e| invalid(e.to_string()))?;

        let speed = match root.child("速別").and_then(|e| e.attr("代碼")) {
            Some(s) => s.parse::<Speed>().map_err(|e| invalid(e.to_string()))?,
            None => Speed::Normal,
        };
        let classification =
            match root.child("密等及解密條件或保密期限").and_then(|e| e.child("密等")).and_then(|e| e.attr("代碼"))
            {
                Some(c) => c.parse::<Classification>().map_err(|e| invalid(e.to_string()))?,
                None => Classification::Ordinary,
            };
        let subject = read(root.child(kind.subject_label()).and_then(|e| e.child("文字")));
        if subject.is_empty() {
            return Err(invalid(format!("{} is empty", kind.subject_label())));
        }

        let declared = |name: &str| entities.iter().any(|e| e.name == name);
        let addressee_el = root.child("受文者");
        let roster_entity =
            addressee_el.and_then(|e| e.child("交換表")).and_then(|e| e.attr("交換表單")).map(str::to_owned);
        if let Some(r) = &roster_entity
            && !declared(r)
        {
            return Err(invalid(format!("交換表 names entity {r}, which the DOCTYPE does not declare")));
        }
        let mut messages = entities.iter().filter(|e| e.notation == MESSAGE_NOTATION);
        let message_entity = messages.next().map(|e| e.name.clone());
        if messages.next().is_some() {
            return Err(invalid("the DOCTYPE declares more than one 文書訊息表單 (NDATA DM)".into()));
        }
        let mut attachment_entities = Vec::new();
        let attachments = root.child("附件");
        for f in attachments.iter().flat_map(|a| a.children_named("附件檔名")) {
            for name in f.attr("附件名").unwrap_or("").split_whitespace() {
                if !declared(name) {
                    return Err(invalid(format!("附件檔名 names entity {name}, which the DOCTYPE does not declare")));
                }
                if Some(name) == roster_entity.as_deref() || Some(name) == message_entity.as_deref() {
                    return Err(invalid(format!(
                        "附件檔名 names {name}, which is the SW or the DM, not an attachment"
                    )));
                }
                if !attachment_entities.iter().any(|n| n == name) {
                    attachment_entities.push(name.to_owned());
                }
            }
        }
        let (addressee, addressee_code) = match addressee_el {
            Some(a) if a.child("交換表").is_some() => (read(a.child("交換表")), None),
            Some(a) => {
                let name = names(Some(a)).into_iter().next().unwrap_or_default();
                let agency = read(a.child("機關代碼"));
                let unit = read(a.child("單位代碼"));
                (name, (!agency.is_empty()).then(|| format!("{agency}{unit}")))
            }
            None => (String::new(), None),
        };
        let meeting = match kind {
            DocumentKind::MeetingNotice => Some(meeting(root, "開會")),
            DocumentKind::InspectionNotice => Some(meeting(root, "會勘")),
            _ => None,
        };
        let mut contacts: Vec<String> = root.children_named("聯絡方式").map(|c| read(Some(c))).collect();
        if let Some(c) = root.child("聯絡人及電話") {
            contacts.extend(people(c));
        }
        Ok(OfficialDocument {
            kind,
            charset: doc.charset,
            issuer_name,
            issuer_code,
            date,
            date_text,
            number,
            speed,
            classification,
            subject,
            addressee,
            addressee_code,
            address: read(root.child("地址")),
            contacts,
            meeting,
            paragraphs: root.children_named("段落").map(paragraph).collect(),
            remarks: root.child("備註").and_then(|r| r.child("段落")).map(|p| {
                let mut p = paragraph(p);
                if p.label.is_empty() {
                    p.label = "備註：".into();
                }
                p
            }),
            attachment_note: read(attachments.and_then(|a| a.child("文字"))),
            originals: names(root.child("正本")),
            copies: names(root.child("副本")),
            signatures: root.children_named("署名").map(|s| read(Some(s))).filter(|s| !s.is_empty()).collect(),
            presented_to: root.child("敬陳").map(people).unwrap_or_default(),
            handling_unit: read(root.child("承辦單位").and_then(|u| u.child("單位名"))),
            co_units: names(root.child("會辦單位")),
            entities,
            roster_entity,
            message_entity,
            attachment_entities,
        })
    }

    fn entity_file(&self, name: Option<&String>) -> Option<&str> {
        let name = name?;
        self.entities.iter().find(|e| &e.name == name).map(|e| e.system_id.as_str())
    }

    /// The SW file name, when the DI has one.
    pub fn roster_file(&self) -> Option<&str> {
        self.entity_file(self.roster_entity.as_ref())
    }

    /// The DM (文書訊息表單) file name, when the DI has one.
    pub fn message_file(&self) -> Option<&str> {
        self.entity_file(self.message_entity.as_ref())
    }

    /// File names of the attachments: every declared unparsed entity but
    /// the SW and the DM.
    pub fn attachment_files(&self) -> impl Iterator<Item = &str> {
        self.entities
            .iter()
            .filter(|e| Some(&e.name) != self.roster_entity.as_ref() && Some(&e.name) != self.message_entity.as_ref())
            .map(|e| e.system_id.as_str())
    }
}

/// The DOCTYPE's DTD name, when it is a national one (`104_2_utf8.dtd`,
/// `99_4_big5.dtd`), must be the DTD of the root's kind.
fn check_dtd_name(system_id: &str, root: &str, code: &str) -> Result<(), FormatError> {
    let file = system_id.rsplit(['/', '\\']).next().unwrap_or(system_id);
    let Some(stem) = file.strip_suffix(".dtd") else { return Ok(()) };
    let parts: Vec<&str> = stem.split('_').collect();
    let [version, named, charset] = parts[..] else { return Ok(()) };
    let national = matches!(version, "104" | "99") && matches!(charset.to_ascii_lowercase().as_str(), "utf8" | "big5");
    if !national || named.eq_ignore_ascii_case(code) {
        return Ok(());
    }
    let of = ROOTS
        .iter()
        .find(|(_, c)| c.eq_ignore_ascii_case(named))
        .map_or_else(|| "a kind the hub does not exchange".to_owned(), |(n, _)| format!("<{n}>"));
    Err(FormatError::Invalid(format!("the DOCTYPE names {file}, the DTD of {of}, but the root is <{root}>")))
}

/// 字 + 文號 of a 發文字號 or 收文字號 that has them.
fn worded_number(n: &Element) -> Result<DocumentNumber, crate::domain::Invalid> {
    let serial = n.child("文號").expect("checked");
    DocumentNumber::new(
        &read(n.child("字")),
        &read(serial.child("年度")),
        &read(serial.child("流水號")),
        &read(serial.child("支號")),
    )
}

/// The text of an element as a person reads it (see [`reading_text`]).
fn read(e: Option<&Element>) -> String {
    e.map(|e| reading_text(&e.text())).unwrap_or_default()
}

fn paragraph(p: &Element) -> Paragraph {
    let label = p.attr("段名").or_else(|| p.attr("序號")).unwrap_or("").trim().to_owned();
    Paragraph { label, text: read(p.child("文字")), items: p.children_named("條列").map(paragraph).collect() }
}

fn meeting(root: &Element, prefix: &str) -> Meeting {
    let times = root
        .children_named(&format!("{prefix}時間"))
        .map(|t| {
            let day = read(t.child("星期"));
            let day = if day.is_empty() || day.starts_with("星期") || day.starts_with('週') {
                day
            } else {
                format!("星期{day}")
            };
            let day = if day.is_empty() { day } else { format!("（{day}）") };
            format!("{}{day}{}", read(t.child("年月日")), read(t.child("時分")))
        })
        .collect();
    Meeting {
        times,
        place: read(root.child(&format!("{prefix}地點")).and_then(|p| p.child("文字"))),
        chair: root.child("主持人").map(people).unwrap_or_default(),
        attendees: names(root.child("出席者")),
        observers: names(root.child("列席者")),
    }
}

/// A list of people (`姓名, 職稱?`, with 電話 in 聯絡人及電話) or, for
/// 敬陳, `職稱, 姓名?`: one line each.
fn people(el: &Element) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let starts = |name: &str| if el.name == "敬陳" { name == "職稱" } else { name == "姓名" };
    for c in el.elements() {
        if starts(&c.name) && !line.is_empty() {
            out.push(std::mem::take(&mut line));
        }
        let t = read(Some(c));
        if !t.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&t);
        }
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// Names of a 正本, 副本, 出席者 list or a 受文者: 全銜, 單位名, 總稱, or
/// 姓名 with its 職稱; 含附件 marks the name before it.
fn names(el: Option<&Element>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in el.into_iter().flat_map(Element::elements) {
        let t = read(Some(c));
        match c.name.as_str() {
            "職稱" => {
                if let Some(last) = out.last_mut() {
                    last.push(' ');
                    last.push_str(&t);
                }
            }
            "含附件" => {
                if let Some(last) = out.last_mut() {
                    last.push_str(&format!("（{}）", if t.is_empty() { "含附件" } else { &t }));
                }
            }
            "全銜" | "單位名" | "總稱" | "姓名" => out.push(t),
            _ => {}
        }
    }
    out
}

/// Text as a person reads it: the line breaks and indentation that a
/// pretty-printing exporter puts inside an element vanish between two
/// CJK characters and become one space elsewhere; other runs of XML white
/// space become one space; the ends are trimmed. The ideographic space
/// (U+3000) is text, not layout, and stays.
pub fn reading_text(s: &str) -> String {
    let wide = |c: char| c as u32 >= 0x2E80;
    let mut out = String::with_capacity(s.len());
    let mut chars = s.trim_matches(xml::is_space).chars().peekable();
    while let Some(c) = chars.next() {
        if !xml::is_space(c) {
            out.push(c);
            continue;
        }
        let mut broken = c == '\n' || c == '\r';
        while let Some(&n) = chars.peek().filter(|n| xml::is_space(**n)) {
            broken |= n == '\n' || n == '\r';
            chars.next();
        }
        let before = out.chars().next_back().is_some_and(wide);
        let after = chars.peek().is_some_and(|n| wide(*n));
        if !(broken && before && after) {
            out.push(' ');
        }
    }
    out
}

/// `中華民國115年11月20日` → 2026-11-20.
pub fn parse_roc_date(s: &str) -> Option<NaiveDate> {
    let rest = s.trim().strip_prefix("中華民國")?;
    let (y, rest) = rest.split_once('年')?;
    let (m, rest) = rest.split_once('月')?;
    let d = rest.strip_suffix('日')?;
    let n = |x: &str| x.trim().parse::<u32>().ok();
    NaiveDate::from_ymd_opt(i32::try_from(n(y)?).ok()? + 1911, n(m)?, n(d)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const SAMPLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd" [
<!ENTITY 表單 SYSTEM "1153012345.sw" NDATA DI>
<!ENTITY ATTCH1 SYSTEM "1153012345_ATTCH1.pdf" NDATA _X>
<!NOTATION DI SYSTEM "">
<!NOTATION _X SYSTEM "">
]>
<函>
  <發文機關><全銜>臺北市政府資訊局</全銜><機關代碼>379130000C</機關代碼></發文機關>
  <函類別 代碼="書函"/>
  <地址>11008臺北市信義區市府路1號</地址>
  <聯絡方式>承辦人：王小明</聯絡方式>
  <受文者><交換表 交換表單="表單">如正副本行文單位</交換表></受文者>
  <發文日期><年月日>中華民國115年11月20日</年月日></發文日期>
  <發文字號><字>北市資綜字</字><文號><年度>115</年度><流水號>3012345</流水號><支號/></文號></發文字號>
  <速別 代碼="速件"/>
  <密等及解密條件或保密期限><密等/><解密條件或保密期限></解密條件或保密期限></密等及解密條件或保密期限>
  <附件><文字>如文</文字><附件檔名 附件名="ATTCH1"/></附件>
  <主旨><文字>檢送本局網域轉移計畫1份，請查照。</文字></主旨>
  <段落 段名="說明："><文字/><條列 序號="一、"><文字>依據本府第1759次市政會議辦理。</文字></條列></段落>
  <正本><全銜>臺北市政府秘書處</全銜></正本>
  <副本><全銜>臺北市政府研究發展考核委員會</全銜><含附件>含附件</含附件></副本>
  <署名>局長　○○○</署名>
</函>"#;

    #[test]
    fn reads_a_di() {
        let d = OfficialDocument::parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(d.kind, DocumentKind::BriefLetter);
        assert_eq!(d.issuer_code, "379130000C");
        assert_eq!(d.date, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(d.number.to_string(), "北市資綜字第1153012345號");
        assert_eq!(d.speed, Speed::Fast);
        assert_eq!(d.classification, Classification::Ordinary);
        assert_eq!(d.roster_file(), Some("1153012345.sw"));
        assert_eq!(d.attachment_files().collect::<Vec<_>>(), ["1153012345_ATTCH1.pdf"]);
        assert_eq!(d.originals, ["臺北市政府秘書處"]);
        assert_eq!(d.copies, ["臺北市政府研究發展考核委員會（含附件）"]);
        assert_eq!(d.addressee, "如正副本行文單位");
        assert_eq!(d.paragraphs[0].label, "說明：");
        assert_eq!(d.paragraphs[0].items[0].label, "一、");
        assert_eq!(d.paragraphs[0].items[0].text, "依據本府第1759次市政會議辦理。");
        assert_eq!(d.signatures, ["局長　○○○"]);
    }

    #[test]
    fn reads_text_as_a_person_does() {
        assert_eq!(
            reading_text("\n      檢送本局網域\n      轉移計畫1份，\n  請查照。\n  "),
            "檢送本局網域轉移計畫1份，請查照。"
        );
        assert_eq!(reading_text("GWX\n  demo  plan"), "GWX demo plan");
        assert_eq!(reading_text("局長　○○○"), "局長　○○○");
        assert_eq!(reading_text("第1759次\n  市政會議"), "第1759次市政會議");
        assert_eq!(reading_text("第1759\n  次"), "第1759 次");
    }

    #[test]
    fn refuses_kinds_and_dtds_it_does_not_exchange() {
        let e =
            OfficialDocument::parse(b"<\xe6\x9c\x83\xe8\xad\xb0\xe7\xb4\x80\xe9\x8c\x84/>").unwrap_err().to_string();
        assert!(e.contains("開會通知單") && e.contains("公告"), "{e}");
        let e = OfficialDocument::parse(SAMPLE.replace("104_2_utf8.dtd", "104_4_utf8.dtd").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("the DTD of <開會通知單>, but the root is <函>"), "{e}");
        assert!(OfficialDocument::parse(SAMPLE.replace("104_2_utf8.dtd", "99_2_big5.dtd").as_bytes()).is_ok());
    }

    #[test]
    fn refuses_what_the_dtd_refuses() {
        let bad = |from: &str, to: &str| {
            OfficialDocument::parse(SAMPLE.replace(from, to).as_bytes()).unwrap_err().to_string()
        };
        assert!(bad("<地址>11008臺北市信義區市府路1號</地址>", "").contains("out of order"));
        assert!(bad("<密等/>", "<密等 代碼=\"普通\"/>").contains("allowed values"));
        assert!(bad("<主旨>", "<主旨 x=\"1\">").contains("no attribute"));
        assert!(bad("附件名=\"ATTCH1\"", "附件名=\"ATTCH9\"").contains("does not declare"));
        assert!(bad("中華民國115年11月20日", "2026-11-20").contains("發文日期"));
        assert!(bad("代碼=\"書函\"", "代碼=\"移文單\"").contains("not exchanged"));
        assert!(bad("<署名>", "<備考/><署名>").contains("not an element"));
        let secret = OfficialDocument::parse(SAMPLE.replace("<密等/>", "<密等 代碼=\"機密\"/>").as_bytes()).unwrap();
        assert!(secret.classification.is_confidential());
    }

    #[test]
    fn roc_dates() {
        assert_eq!(parse_roc_date("中華民國90年12月1日"), NaiveDate::from_ymd_opt(2001, 12, 1));
        assert_eq!(parse_roc_date("中華民國115年2月30日"), None);
    }
}
