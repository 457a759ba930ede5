//! The 公文 itself: a DI file of the national format (DESIGN §3.2, §3.5),
//! root `函` (or a 書函 by its 函類別), read safely and validated against
//! the 104 DTD's content model, then reduced to what the exchange needs.

use chrono::NaiveDate;

use super::FormatError;
use super::dtd::{self, LETTER_KINDS};
use super::xml::{self, Element, Limits, UnparsedEntity};
use crate::domain::document::{Classification, DocumentNumber, Speed};

/// A DI of at most this size; attachments travel beside it.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// What the exchange takes from a DI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficialDocument {
    /// 函 or 書函.
    pub kind: String,
    /// 發文機關: 全銜 (or 單位名) and 機關代碼 of the first.
    pub issuer_name: String,
    pub issuer_code: String,
    pub date: NaiveDate,
    pub number: DocumentNumber,
    /// Missing 速別 reads as 普通件.
    pub speed: Speed,
    /// Empty 密等 reads as 普通.
    pub classification: Classification,
    pub subject: String,
    /// Unparsed entities the DOCTYPE declares, in order.
    pub entities: Vec<UnparsedEntity>,
    /// The entity named by `受文者/交換表/@交換表單`: the SW recipient list.
    pub roster_entity: Option<String>,
    /// Entity names listed by `附件/附件檔名/@附件名`.
    pub attachment_entities: Vec<String>,
    /// 正本 and 副本 names, for people to read.
    pub originals: Vec<String>,
    pub copies: Vec<String>,
}

impl OfficialDocument {
    pub fn parse(bytes: &[u8]) -> Result<OfficialDocument, FormatError> {
        let limits = Limits { max_bytes: MAX_DOCUMENT_BYTES, ..Limits::default() };
        let doc = xml::parse(bytes, limits).map_err(FormatError::from_xml)?;
        let root = &doc.root;
        if root.name != "函" {
            return Err(FormatError::Invalid(format!("the root must be <函> (函 or 書函), not <{}>", root.name)));
        }
        dtd::validate(root)?;
        let entities = doc.doctype.map(|d| d.entities).unwrap_or_default();
        let invalid = |m: String| FormatError::Invalid(m);
        let text = |e: Option<&Element>| e.map(|e| e.text().trim().to_owned()).unwrap_or_default();
        // The content model guarantees these children exist.
        let child = |el: &'_ Element, name: &str| el.child(name).cloned();

        let kind = root.child("函類別").and_then(|e| e.attr("代碼")).unwrap_or("函").to_owned();
        if !LETTER_KINDS.contains(&kind.as_str()) {
            return Err(invalid(format!(
                "函類別 '{kind}' is not exchanged here (accepted: {})",
                LETTER_KINDS.join(", ")
            )));
        }
        let issuer = root.child("發文機關").expect("content model");
        let issuer_name = text(issuer.child("全銜").or_else(|| issuer.child("單位名")));
        let issuer_code = text(issuer.child("機關代碼"));

        let date_text = text(child(root, "發文日期").as_ref().and_then(|d| d.child("年月日")));
        let date = parse_roc_date(&date_text)
            .ok_or_else(|| invalid(format!("發文日期 '{date_text}' is not a date like 中華民國115年11月20日")))?;

        let number_el = root
            .children_named("發文字號")
            .find(|n| n.child("文號").is_some())
            .ok_or_else(|| invalid("發文字號 needs 字 and 文號 (年度, 流水號, 支號)".into()))?;
        let serial = number_el.child("文號").expect("content model");
        let number = DocumentNumber::new(
            &text(number_el.child("字")),
            &text(serial.child("年度")),
            &text(serial.child("流水號")),
            &text(serial.child("支號")),
        )
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
        let subject = text(root.child("主旨").and_then(|e| e.child("文字")));
        if subject.is_empty() {
            return Err(invalid("主旨 is empty".into()));
        }

        let declared = |name: &str| entities.iter().any(|e| e.name == name);
        let roster_entity =
            root.child("受文者").and_then(|e| e.child("交換表")).and_then(|e| e.attr("交換表單")).map(str::to_owned);
        if let Some(r) = &roster_entity
            && !declared(r)
        {
            return Err(invalid(format!("交換表 names entity {r}, which the DOCTYPE does not declare")));
        }
        let mut attachment_entities = Vec::new();
        if let Some(att) = root.child("附件") {
            for f in att.children_named("附件檔名") {
                for name in f.attr("附件名").unwrap_or("").split_whitespace() {
                    if !declared(name) {
                        return Err(invalid(format!(
                            "附件檔名 names entity {name}, which the DOCTYPE does not declare"
                        )));
                    }
                    if !attachment_entities.iter().any(|n| n == name) {
                        attachment_entities.push(name.to_owned());
                    }
                }
            }
        }
        let names = |el: Option<&Element>| -> Vec<String> {
            el.map(|e| {
                e.elements()
                    .filter(|c| c.name != "含附件" && c.name != "職稱")
                    .map(|c| c.text().trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
        };
        Ok(OfficialDocument {
            kind,
            issuer_name,
            issuer_code,
            date,
            number,
            speed,
            classification,
            subject,
            entities,
            roster_entity,
            attachment_entities,
            originals: names(root.child("正本")),
            copies: names(root.child("副本")),
        })
    }

    /// The SW file name, when the DI has one.
    pub fn roster_file(&self) -> Option<&str> {
        let name = self.roster_entity.as_deref()?;
        self.entities.iter().find(|e| e.name == name).map(|e| e.system_id.as_str())
    }

    /// File names of the attachments: every declared unparsed entity but the SW.
    pub fn attachment_files(&self) -> impl Iterator<Item = &str> {
        self.entities.iter().filter(|e| Some(&e.name) != self.roster_entity.as_ref()).map(|e| e.system_id.as_str())
    }
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
mod tests {
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
        assert_eq!(d.kind, "書函");
        assert_eq!(d.issuer_code, "379130000C");
        assert_eq!(d.date, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        assert_eq!(d.number.to_string(), "北市資綜字第1153012345號");
        assert_eq!(d.speed, Speed::Fast);
        assert_eq!(d.classification, Classification::Ordinary);
        assert_eq!(d.roster_file(), Some("1153012345.sw"));
        assert_eq!(d.attachment_files().collect::<Vec<_>>(), ["1153012345_ATTCH1.pdf"]);
        assert_eq!(d.originals, ["臺北市政府秘書處"]);
        assert_eq!(d.copies, ["臺北市政府研究發展考核委員會"]);
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
        assert!(bad("<署名>", "<備註/><署名>").contains("not an element"));
        let secret = OfficialDocument::parse(SAMPLE.replace("<密等/>", "<密等 代碼=\"機密\"/>").as_bytes()).unwrap();
        assert!(secret.classification.is_confidential());
    }

    #[test]
    fn roc_dates() {
        assert_eq!(parse_roc_date("中華民國90年12月1日"), NaiveDate::from_ymd_opt(2001, 12, 1));
        assert_eq!(parse_roc_date("中華民國115年2月30日"), None);
    }
}
