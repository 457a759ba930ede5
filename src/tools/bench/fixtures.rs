//! What the bench sends: valid 公文 DIs and PDF attachments of a given size,
//! signed into packages by the sample participants.

use bytes::Bytes;

use crate::client::package::{self, Outgoing, SendOptions, Source};
use crate::domain::ParticipantCode;
use crate::domain::document::FileName;
use crate::pki::demo::KeyPair;

/// A valid DI (書函) from `sender` with attachments `attachments` (file names).
pub fn bench_di(sender: &str, serial: &str, attachments: &[String]) -> String {
    let entities: String = attachments
        .iter()
        .enumerate()
        .map(|(i, f)| format!("<!ENTITY ATTCH{} SYSTEM \"{f}\" NDATA _X>\n", i + 1))
        .collect();
    let subset =
        if attachments.is_empty() { String::new() } else { format!(" [\n{entities}<!NOTATION _X SYSTEM \"\">\n]") };
    let names: Vec<String> = (1..=attachments.len()).map(|i| format!("ATTCH{i}")).collect();
    let attach = if attachments.is_empty() {
        String::new()
    } else {
        format!("<附件><文字>如文</文字><附件檔名 附件名=\"{}\"/></附件>", names.join(" "))
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE 函 SYSTEM \"104_2_utf8.dtd\"{subset}>\n<函>\
         <發文機關><全銜>效能測試機關</全銜><機關代碼>{sender}</機關代碼></發文機關><函類別 代碼=\"書函\"/>\
         <地址>臺北市信義區市府路1號</地址><聯絡方式>承辦人：效能測試</聯絡方式>\
         <受文者><全銜>如正副本行文單位</全銜><機關代碼>{sender}</機關代碼></受文者>\
         <發文日期><年月日>中華民國115年11月20日</年月日></發文日期>\
         <發文字號><字>北市效能字</字><文號><年度>115</年度><流水號>{serial}</流水號><支號/></文號></發文字號>\
         <速別 代碼=\"普通件\"/>{attach}<主旨><文字>效能測試公文{serial}，請查照。</文字></主旨>\
         <正本><全銜>如正副本行文單位</全銜></正本><署名>效能測試</署名></函>\n"
    )
}

/// A PDF of exactly `size` bytes whose content is unique to `tag`.
pub fn pdf_of(size: usize, tag: &str) -> Bytes {
    let mut v = format!("%PDF-1.4\n% gwx bench {tag}\n").into_bytes();
    let filler = b"0123456789abcdef";
    while v.len() < size {
        let n = (size - v.len()).min(filler.len());
        v.extend_from_slice(&filler[..n]);
    }
    v.truncate(size.max(9));
    Bytes::from(v)
}

pub(super) struct Signer {
    pub(super) code: ParticipantCode,
    pub(super) keys: KeyPair,
}

/// Builds and signs one package of about `size` bytes.
pub(super) fn make_package(
    signer: &Signer,
    serial: &str,
    size: usize,
    attachments: usize,
    to: Vec<String>,
) -> anyhow::Result<Outgoing> {
    let names: Vec<String> = (1..=attachments).map(|i| format!("{serial}_ATTCH{i}.pdf")).collect();
    let di = bench_di(signer.code.as_str(), serial, &names);
    let each = size.saturating_sub(di.len()) / attachments.max(1);
    let opts = SendOptions { to, ..Default::default() };
    package::build(
        FileName::parse(&format!("{serial}.di"))?,
        Bytes::from(di),
        &opts,
        &signer.code,
        &signer.keys.cert,
        &signer.keys.key,
        |name| Ok(Source::Bytes(pdf_of(each, name))),
    )
}
