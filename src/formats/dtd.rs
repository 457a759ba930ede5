//! The content models of the national 104 DTDs that the hub accepts,
//! transcribed from `104_2_utf8.dtd` (函), `104_roster_utf8.dtd`
//! (交換表單) and their shared `.ent` files, and a checker for them. The
//! other exchangeable kinds (令, 公告, 開會通知單, 會勘通知單, 簽, 簽稿會核單)
//! have their root models from the element order that agency exporters emit
//! (`schemas/national-dtd/KINDS.md`), written as DTDs in `schemas/kinds/`: their
//! children are the shared sets' elements, strict where the hub reads them
//! (issuer, date, number, subject), optional where the national DTD is not
//! public here.
//!
//! The hub never loads a DTD (DESIGN §3.2); it validates the parsed tree
//! against these tables instead. `schemas/di-subset.xsd` describes the same
//! subset for people and for `xmllint`, and the tests keep the two in step.

use super::FormatError;
use super::xml::Element;

/// A DTD content particle.
#[derive(Debug)]
enum M {
    Name(&'static str),
    Seq(&'static [M]),
    Choice(&'static [M]),
    Opt(&'static M),
    Star(&'static M),
    Plus(&'static M),
}

use M::*;

/// What an element may contain.
enum Content {
    Pcdata,
    Empty,
    Model(M),
}

/// An attribute an element may carry, with its allowed values (empty: any text).
struct Attr {
    name: &'static str,
    values: &'static [&'static str],
    required: bool,
}

struct Decl {
    name: &'static str,
    content: Content,
    attrs: &'static [Attr],
}

const PERSON: M = Seq(&[Name("姓名"), Opt(&Name("職稱"))]);
const ADDRESSEE: M = Choice(&[
    Seq(&[Name("姓名"), Opt(&Name("職稱")), Name("機關代碼"), Opt(&Name("單位代碼"))]),
    Seq(&[Name("全銜"), Name("機關代碼")]),
    Seq(&[Name("單位名"), Name("機關代碼"), Name("單位代碼")]),
]);
const ROSTER_ADDRESSEE: M = Choice(&[
    Seq(&[Name("姓名"), Opt(&Name("職稱")), Name("機關代碼"), Opt(&Name("單位代碼"))]),
    Seq(&[Name("單位名"), Name("機關代碼"), Name("單位代碼")]),
    Seq(&[Name("全銜"), Name("機關代碼")]),
]);
const NAMED: M = Choice(&[PERSON, Name("全銜"), Name("單位名"), Name("總稱")]);

/// 函類別 values of the DTD; the hub accepts the first two (DESIGN §3.2).
pub const LETTER_KINDS: &[&str] = &["函", "書函"];
const ALL_LETTER_KINDS: &[&str] = &[
    "函",
    "書函",
    "交辦案件通知單",
    "交議案件通知單",
    "催辦案件通知單",
    "移文單",
    "機密文書機密等級變更或註銷建議單",
    "機密文書機密等級變更或註銷通知單",
    "執行命令",
    "獎懲建議函",
];
pub const CLASSIFICATIONS: &[&str] = &["密", "機密", "極機密", "絕對機密"];
const COPY_KINDS: &[&str] = &["正本", "副本", "抄本", "影本", "譯本", "稿本", "草稿", "定稿", "底圖", "藍圖"];

const fn pcdata(name: &'static str) -> Decl {
    Decl { name, content: Content::Pcdata, attrs: &[] }
}

/// 發文機關 of the shared set.
const ISSUER: M =
    Choice(&[Seq(&[Name("全銜"), Name("機關代碼")]), Seq(&[Name("單位名"), Name("機關代碼"), Name("單位代碼")])]);
/// 開會時間, 會勘時間.
const WHEN: M = Seq(&[Name("年月日"), Name("星期"), Name("時分")]);

/// 開會通知單 and 會勘通知單: one model, each with its own 事由, 時間 and 地點.
macro_rules! notice {
    ($root:literal, $cause:literal, $time:literal, $place:literal) => {
        Decl {
            name: $root,
            content: Content::Model(Seq(&[
                Plus(&Name("發文機關")),
                Name("受文者"),
                Opt(&Name("聯絡人及電話")),
                Name("發文日期"),
                Plus(&Name("發文字號")),
                Opt(&Name("速別")),
                Opt(&Name("密等及解密條件或保密期限")),
                Opt(&Name("附件")),
                Name($cause),
                Plus(&Name($time)),
                Name($place),
                Opt(&Name("主持人")),
                Opt(&Name("出席者")),
                Opt(&Name("列席者")),
                Opt(&Name("副本")),
                Opt(&Name("備註")),
                Star(&Name("署名")),
            ])),
            attrs: &[],
        }
    };
}

static DECLS: &[Decl] = &[
    Decl {
        name: "令",
        content: Content::Model(Seq(&[
            Plus(&Name("發文機關")),
            Opt(&Name("令類別")),
            Opt(&Name("受文者")),
            Name("發文日期"),
            Plus(&Name("發文字號")),
            Opt(&Name("速別")),
            Opt(&Name("密等及解密條件或保密期限")),
            Opt(&Name("附件")),
            Name("主旨"),
            Star(&Name("段落")),
            Opt(&Name("正本")),
            Opt(&Name("副本")),
            Star(&Name("署名")),
        ])),
        attrs: &[],
    },
    Decl {
        name: "公告",
        content: Content::Model(Seq(&[
            Plus(&Name("發文機關")),
            Name("發文日期"),
            Plus(&Name("發文字號")),
            Opt(&Name("附件")),
            Name("主旨"),
            Star(&Name("段落")),
            Star(&Name("署名")),
        ])),
        attrs: &[],
    },
    notice!("開會通知單", "開會事由", "開會時間", "開會地點"),
    notice!("會勘通知單", "會勘事由", "會勘時間", "會勘地點"),
    Decl {
        name: "簽",
        content: Content::Model(Seq(&[
            Name("發文機關或單位"),
            Opt(&Name("受文者")),
            Opt(&Name("文號")),
            Opt(&Name("速別")),
            Opt(&Name("密等及解密條件或保密期限")),
            Opt(&Name("擬辦方式")),
            Opt(&Name("附件")),
            Name("主旨"),
            Star(&Name("段落")),
            Opt(&Name("敬陳")),
            Star(&Name("署名")),
            Opt(&Name("年月日")),
        ])),
        attrs: &[],
    },
    Decl {
        name: "簽稿會核單",
        content: Content::Model(Seq(&[
            Opt(&Name("受文者")),
            Name("發文機關"),
            Name("案情摘要"),
            Opt(&Name("承辦單位")),
            Opt(&Name("收文字號")),
            Opt(&Name("會辦單位")),
        ])),
        attrs: &[],
    },
    Decl {
        name: "令類別",
        content: Content::Empty,
        attrs: &[Attr { name: "代碼", values: &["令", "獎懲令"], required: false }],
    },
    Decl {
        name: "聯絡人及電話",
        content: Content::Model(Plus(&Seq(&[Name("姓名"), Opt(&Name("職稱")), Name("電話")]))),
        attrs: &[],
    },
    Decl { name: "開會事由", content: Content::Model(Name("文字")), attrs: &[] },
    Decl { name: "開會時間", content: Content::Model(WHEN), attrs: &[] },
    Decl { name: "開會地點", content: Content::Model(Name("文字")), attrs: &[] },
    Decl { name: "會勘事由", content: Content::Model(Name("文字")), attrs: &[] },
    Decl { name: "會勘時間", content: Content::Model(WHEN), attrs: &[] },
    Decl { name: "會勘地點", content: Content::Model(Name("文字")), attrs: &[] },
    Decl { name: "主持人", content: Content::Model(Plus(&PERSON)), attrs: &[] },
    Decl { name: "出席者", content: Content::Model(Plus(&NAMED)), attrs: &[] },
    Decl { name: "列席者", content: Content::Model(Star(&NAMED)), attrs: &[] },
    Decl { name: "備註", content: Content::Model(Name("段落")), attrs: &[] },
    Decl {
        name: "發文機關或單位",
        content: Content::Model(Choice(&[
            Seq(&[Name("全銜"), Opt(&Name("機關代碼"))]),
            Seq(&[Name("單位名"), Opt(&Seq(&[Name("機關代碼"), Name("單位代碼")]))]),
        ])),
        attrs: &[],
    },
    Decl {
        name: "擬辦方式",
        content: Content::Empty,
        attrs: &[Attr { name: "代碼", values: &["1", "2", "3", "4", "5", "6"], required: false }],
    },
    Decl { name: "敬陳", content: Content::Model(Plus(&Seq(&[Name("職稱"), Opt(&Name("姓名"))]))), attrs: &[] },
    Decl { name: "案情摘要", content: Content::Model(Name("文字")), attrs: &[] },
    Decl { name: "承辦單位", content: Content::Model(Name("單位名")), attrs: &[] },
    Decl {
        name: "收文字號",
        content: Content::Model(Choice(&[Seq(&[Name("字"), Name("文號")]), Name("文字")])),
        attrs: &[],
    },
    Decl {
        name: "會辦單位",
        content: Content::Model(Plus(&Choice(&[Seq(&[Name("單位名"), Opt(&Name("單位代碼"))]), Name("全銜")]))),
        attrs: &[],
    },
    Decl {
        name: "函",
        content: Content::Model(Seq(&[
            Plus(&Name("發文機關")),
            Name("函類別"),
            Name("地址"),
            Plus(&Name("聯絡方式")),
            Name("受文者"),
            Name("發文日期"),
            Plus(&Name("發文字號")),
            Opt(&Name("速別")),
            Opt(&Name("密等及解密條件或保密期限")),
            Opt(&Name("附件")),
            Name("主旨"),
            Star(&Name("段落")),
            Name("正本"),
            Opt(&Name("副本")),
            Star(&Name("署名")),
        ])),
        attrs: &[],
    },
    Decl { name: "發文機關", content: Content::Model(ISSUER), attrs: &[] },
    Decl {
        name: "函類別",
        content: Content::Empty,
        attrs: &[Attr { name: "代碼", values: ALL_LETTER_KINDS, required: false }],
    },
    Decl {
        name: "受文者",
        content: Content::Model(Choice(&[
            Seq(&[ADDRESSEE, Opt(&Name("含附件")), Opt(&Name("內含本文與附件之可攜式文件檔名"))]),
            Name("交換表"),
        ])),
        attrs: &[],
    },
    Decl {
        name: "交換表", content: Content::Pcdata, attrs: &[Attr { name: "交換表單", values: &[], required: true }]
    },
    Decl { name: "發文日期", content: Content::Model(Name("年月日")), attrs: &[] },
    Decl {
        name: "發文字號",
        content: Content::Model(Choice(&[Seq(&[Name("字"), Name("文號")]), Name("文字")])),
        attrs: &[],
    },
    Decl {
        name: "文號",
        content: Content::Model(Seq(&[Name("年度"), Name("流水號"), Opt(&Name("支號"))])),
        attrs: &[],
    },
    Decl {
        name: "速別",
        content: Content::Empty,
        attrs: &[Attr { name: "代碼", values: &["普通件", "速件", "最速件"], required: false }],
    },
    Decl {
        name: "密等及解密條件或保密期限",
        content: Content::Model(Seq(&[Name("密等"), Name("解密條件或保密期限")])),
        attrs: &[],
    },
    Decl {
        name: "密等",
        content: Content::Empty,
        attrs: &[Attr { name: "代碼", values: CLASSIFICATIONS, required: false }],
    },
    Decl { name: "附件", content: Content::Model(Seq(&[Name("文字"), Star(&Name("附件檔名"))])), attrs: &[] },
    Decl {
        name: "附件檔名", content: Content::Empty, attrs: &[Attr { name: "附件名", values: &[], required: true }]
    },
    Decl { name: "主旨", content: Content::Model(Name("文字")), attrs: &[] },
    Decl {
        name: "段落",
        content: Content::Model(Seq(&[Opt(&Name("文字")), Star(&Name("條列"))])),
        attrs: &[Attr { name: "段名", values: &[], required: false }],
    },
    Decl {
        name: "條列",
        content: Content::Model(Seq(&[Opt(&Name("文字")), Star(&Name("條列"))])),
        attrs: &[Attr { name: "序號", values: &[], required: false }],
    },
    Decl { name: "正本", content: Content::Model(Plus(&NAMED)), attrs: &[] },
    Decl { name: "副本", content: Content::Model(Star(&Seq(&[NAMED, Opt(&Name("含附件"))]))), attrs: &[] },
    Decl {
        name: "交換表單",
        content: Content::Model(Plus(&Seq(&[
            ROSTER_ADDRESSEE,
            Opt(&Name("含附件")),
            Opt(&Name("內含本文與附件之可攜式文件檔名")),
            Opt(&Name("本別")),
        ]))),
        attrs: &[],
    },
    Decl { name: "本別", content: Content::Model(Name("收發處理本別")), attrs: &[] },
    Decl {
        name: "收發處理本別",
        content: Content::Empty,
        attrs: &[Attr { name: "代碼", values: COPY_KINDS, required: false }],
    },
    pcdata("全銜"),
    pcdata("機關代碼"),
    pcdata("單位代碼"),
    pcdata("單位名"),
    pcdata("姓名"),
    pcdata("職稱"),
    pcdata("總稱"),
    pcdata("地址"),
    pcdata("聯絡方式"),
    pcdata("年月日"),
    pcdata("字"),
    pcdata("年度"),
    pcdata("流水號"),
    pcdata("支號"),
    pcdata("文字"),
    pcdata("解密條件或保密期限"),
    pcdata("署名"),
    pcdata("電話"),
    pcdata("星期"),
    pcdata("時分"),
    pcdata("含附件"),
    pcdata("內含本文與附件之可攜式文件檔名"),
];

/// All end positions at which `m` can match `names` starting at `pos`.
fn ends(m: &M, names: &[&str], pos: usize) -> Vec<usize> {
    match m {
        Name(n) => {
            if names.get(pos) == Some(n) {
                vec![pos + 1]
            } else {
                vec![]
            }
        }
        Seq(parts) => parts.iter().fold(vec![pos], |starts, p| {
            let mut out: Vec<usize> = starts.iter().flat_map(|&s| ends(p, names, s)).collect();
            out.sort_unstable();
            out.dedup();
            out
        }),
        Choice(alts) => {
            let mut out: Vec<usize> = alts.iter().flat_map(|a| ends(a, names, pos)).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
        Opt(inner) => {
            let mut out = ends(inner, names, pos);
            out.push(pos);
            out.sort_unstable();
            out.dedup();
            out
        }
        Star(inner) | Plus(inner) => {
            let mut reached = if matches!(m, Star(_)) { vec![pos] } else { vec![] };
            let mut frontier = vec![pos];
            while !frontier.is_empty() {
                let mut next = Vec::new();
                for s in frontier {
                    for e in ends(inner, names, s) {
                        // Each repetition must consume something, so this terminates.
                        if e > s && !reached.contains(&e) {
                            reached.push(e);
                            next.push(e);
                        }
                    }
                }
                frontier = next;
            }
            reached.sort_unstable();
            reached
        }
    }
}

/// Validates `el` and everything below it against the declarations.
pub fn validate(el: &Element) -> Result<(), FormatError> {
    let invalid = |m: String| Err(FormatError::Invalid(m));
    let Some(decl) = DECLS.iter().find(|d| d.name == el.name) else {
        return invalid(format!("<{}> is not an element of the accepted 公文 format", el.name));
    };
    for attr in &el.attrs {
        let (k, v) = (&attr.name, &attr.value);
        let Some(a) = decl.attrs.iter().find(|a| a.name == k) else {
            return invalid(format!("<{}> has no attribute {k}", el.name));
        };
        if !a.values.is_empty() && !a.values.contains(&v.as_str()) {
            return invalid(format!("<{} {k}=\"{v}\">: allowed values are {}", el.name, a.values.join(", ")));
        }
    }
    for a in decl.attrs.iter().filter(|a| a.required) {
        if el.attr(a.name).is_none() {
            return invalid(format!("<{}> needs the attribute {}", el.name, a.name));
        }
    }
    match &decl.content {
        Content::Pcdata => {
            if let Some(child) = el.elements().next() {
                return invalid(format!("<{}> holds text only, not <{}>", el.name, child.name));
            }
        }
        Content::Empty => {
            if !el.children.is_empty() && (el.elements().next().is_some() || el.has_text()) {
                return invalid(format!("<{}> must be empty", el.name));
            }
        }
        Content::Model(m) => {
            if el.has_text() {
                return invalid(format!("<{}> must not contain text directly", el.name));
            }
            if let Some(unknown) = el.elements().find(|c| !DECLS.iter().any(|d| d.name == c.name)) {
                return invalid(format!("<{}> is not an element of the accepted 公文 format", unknown.name));
            }
            let names: Vec<&str> = el.elements().map(|e| e.name.as_str()).collect();
            if !ends(m, &names, 0).contains(&names.len()) {
                return invalid(format!(
                    "<{}> has its parts out of order or missing: <{}>",
                    el.name,
                    names.join(">, <")
                ));
            }
            for child in el.elements() {
                validate(child)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_models_match_like_a_dtd() {
        let names = |s: &str| s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let m = Seq(&[Plus(&Name("a")), Opt(&Name("b")), Star(&Seq(&[Name("c"), Opt(&Name("d"))]))]);
        let ok = |s: &str| {
            let n = names(s);
            let r: Vec<&str> = n.iter().map(String::as_str).collect();
            ends(&m, &r, 0).contains(&r.len())
        };
        assert!(ok("a"));
        assert!(ok("a,a,b,c,d,c"));
        assert!(!ok(""));
        assert!(!ok("b"));
        assert!(!ok("a,b,b"));
        assert!(!ok("a,d"));
    }
}
