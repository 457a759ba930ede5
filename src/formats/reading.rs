//! A 公文 as it reads on paper (DESIGN §13): for each kind, its fields in
//! the order a printed document shows them — the heading, then 受文者,
//! 發文日期 and 字號, 速別, 密等, 附件; then the body (主旨 or 開會事由 with
//! time and place, every 段落 with its 條列 numbering); then 正本/副本 (or
//! 出席者, 敬陳, 會辦單位); then 署名. The console renders it as HTML,
//! `gwx show` as text: both from this one layout.

use super::document::{OfficialDocument, Paragraph};
use crate::domain::document::DocumentKind;

/// One labelled field: `速別：速件`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub label: String,
    pub value: String,
}

/// One line of the body: a label (主旨：, 說明：, 一、) and its text, indented
/// by `depth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub depth: usize,
    pub label: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The heading: the issuer and the kind, e.g. 臺北市政府資訊局　開會通知單.
    pub title: String,
    pub head: Vec<Field>,
    pub body: Vec<Line>,
    pub tail: Vec<Field>,
    pub signatures: Vec<String>,
}

impl Reading {
    /// The reading of `doc`; `attachments` are the names of the files it
    /// carries as attachments (not the SW or the DM).
    pub fn of(doc: &OfficialDocument, attachments: &[String]) -> Reading {
        use DocumentKind::*;
        let mut head = Vec::new();
        let mut body = Vec::new();
        let mut tail = Vec::new();
        let put = |to: &mut Vec<Field>, label: &str, value: String| {
            if !value.trim().is_empty() {
                to.push(Field { label: label.to_owned(), value });
            }
        };
        let join = |v: &[String]| v.join("、");
        let kind = doc.kind;
        if kind == Letter || kind == BriefLetter {
            put(&mut head, "地址", doc.address.clone());
            put(&mut head, "聯絡方式", doc.contacts.join("；"));
        }
        if kind != Announcement {
            put(&mut head, "受文者", doc.addressee.clone());
        }
        let number_label = match kind {
            Memo => "文號",
            ReviewSheet => "收文字號",
            _ => "發文字號",
        };
        if kind != Memo && kind != ReviewSheet {
            put(&mut head, "發文日期", doc.date_text.clone());
        }
        put(&mut head, number_label, doc.number.to_string());
        if kind == Memo {
            put(&mut head, "年月日", doc.date_text.clone());
        }
        if kind == ReviewSheet {
            put(&mut head, "承辦單位", doc.handling_unit.clone());
        } else {
            if kind != Announcement {
                put(&mut head, "速別", doc.speed.to_string());
                put(&mut head, "密等及解密條件或保密期限", doc.classification.to_string());
            }
            let mut files = doc.attachment_note.clone();
            if !attachments.is_empty() {
                let names = join(attachments);
                files = if files.is_empty() { names } else { format!("{files}（{names}）") };
            }
            put(&mut head, "附件", files);
        }

        body.push(Line { depth: 0, label: format!("{}：", kind.subject_label()), text: doc.subject.clone() });
        if let Some(m) = &doc.meeting {
            let what = if kind == MeetingNotice { "開會" } else { "會勘" };
            for t in &m.times {
                body.push(Line { depth: 0, label: format!("{what}時間："), text: t.clone() });
            }
            body.push(Line { depth: 0, label: format!("{what}地點："), text: m.place.clone() });
            if !m.chair.is_empty() {
                body.push(Line { depth: 0, label: "主持人：".into(), text: join(&m.chair) });
            }
            if !doc.contacts.is_empty() {
                body.push(Line { depth: 0, label: "聯絡人及電話：".into(), text: doc.contacts.join("；") });
            }
            put(&mut tail, "出席者", join(&m.attendees));
            put(&mut tail, "列席者", join(&m.observers));
        }
        for p in doc.paragraphs.iter().chain(&doc.remarks) {
            paragraph_lines(p, 0, &mut body);
        }
        put(&mut tail, "正本", join(&doc.originals));
        put(&mut tail, "副本", join(&doc.copies));
        put(&mut tail, "敬陳", doc.presented_to.join("　"));
        put(&mut tail, "會辦單位", join(&doc.co_units));
        Reading {
            title: format!("{}　{}", doc.issuer_name, kind),
            head,
            body,
            tail,
            signatures: doc.signatures.clone(),
        }
    }

    /// The reading as terminal text, indented as the paper is.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n\n", self.title);
        for f in &self.head {
            out.push_str(&format!("{}：{}\n", f.label, f.value));
        }
        out.push('\n');
        for l in &self.body {
            out.push_str(&format!("{}{}{}\n", "  ".repeat(l.depth), l.label, l.text));
        }
        if !self.tail.is_empty() {
            out.push('\n');
        }
        for f in &self.tail {
            out.push_str(&format!("{}：{}\n", f.label, f.value));
        }
        for s in &self.signatures {
            out.push_str(&format!("\n{s}\n"));
        }
        out
    }
}

fn paragraph_lines(p: &Paragraph, depth: usize, out: &mut Vec<Line>) {
    if !p.label.is_empty() || !p.text.is_empty() {
        out.push(Line { depth, label: p.label.clone(), text: p.text.clone() });
    }
    let inner = if p.label.is_empty() && p.text.is_empty() { depth } else { depth + 1 };
    for item in &p.items {
        paragraph_lines(item, inner, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_reads_in_paper_order() {
        let doc = OfficialDocument::parse(super::super::document::tests::SAMPLE.as_bytes()).unwrap();
        let r = Reading::of(&doc, &["1153012345_ATTCH1.pdf".into()]);
        assert_eq!(r.title, "臺北市政府資訊局　書函");
        let labels: Vec<&str> = r.head.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(
            labels,
            ["地址", "聯絡方式", "受文者", "發文日期", "發文字號", "速別", "密等及解密條件或保密期限", "附件"]
        );
        assert_eq!(r.head[7].value, "如文（1153012345_ATTCH1.pdf）");
        let text = r.to_text();
        assert!(
            text.contains("主旨：檢送本局網域轉移計畫1份，請查照。\n說明：\n  一、依據本府第1759次市政會議辦理。\n"),
            "{text}"
        );
        assert!(text.contains("副本：臺北市政府研究發展考核委員會（含附件）\n"), "{text}");
        assert!(text.ends_with("\n局長　○○○\n"), "{text}");
    }
}
