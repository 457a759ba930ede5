//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer) and
//! for the replay of their corpora as ordinary tests on stable Rust
//! (`tests/api/fuzzing.rs`). Each takes arbitrary bytes, must never panic,
//! and asserts what must hold of whatever its parser accepted.

use super::attachment::{self, TextCheck};
use super::document::OfficialDocument;
use super::envelope::Envelope;
use super::multipart::{self, Event};
use super::roster;
use super::xml::{self, Element, Limits, Node};

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// The targets, by name: `fuzz/fuzz_targets/<name>.rs` calls the function.
pub const TARGETS: &[(&str, Target)] = &[
    ("xml_reader", xml_reader),
    ("doctype", doctype),
    ("envelope", envelope),
    ("document", document),
    ("roster", roster),
    ("multipart", multipart),
    ("attachment", attachment),
];

/// The bounds the reader is run with: small, so the fuzzer reaches them.
const XML_LIMITS: Limits = Limits { max_bytes: 64 * 1024, max_depth: 12, max_elements: 2_000, max_attributes: 8 };

fn depth_and_count(e: &Element) -> (usize, usize) {
    e.children.iter().fold((1, 1), |(depth, count), n| match n {
        Node::Element(c) => {
            let (d, k) = depth_and_count(c);
            (depth.max(d + 1), count + k)
        }
        Node::Text(_) => (depth, count),
    })
}

/// The XML reader: what it accepts is within its limits, and every name
/// it resolved has a local part.
pub fn xml_reader(data: &[u8]) {
    if let Ok(doc) = xml::parse(data, XML_LIMITS) {
        let (depth, count) = depth_and_count(&doc.root);
        assert!(depth <= XML_LIMITS.max_depth, "depth {depth}");
        assert!(count <= XML_LIMITS.max_elements, "{count} elements");
        assert!(!doc.root.local.is_empty());
        assert!(doc.root.attrs.len() <= XML_LIMITS.max_attributes);
    }
}

/// The DOCTYPE reader alone (the text after `<!DOCTYPE`): every entity it
/// returns is an unparsed one with a declared notation.
pub fn doctype(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = xml::parse_doctype(text) {
        for e in &d.entities {
            assert!(d.notations.contains(&e.notation), "entity {} without its notation", e.name);
        }
    }
}

/// The envelope: an accepted envelope, written out as the client writes
/// it, reads back the same.
pub fn envelope(data: &[u8]) {
    if let Ok(e) = Envelope::parse(data) {
        let again = Envelope::parse(e.to_xml().as_bytes()).expect("an accepted envelope, written out, is read back");
        assert_eq!(again, e, "the envelope changed on the round trip");
    }
}

/// The 公文 DI parser: what it accepts reads as a clerk reads it, with
/// its subject, and lists neither the SW nor the DM as an attachment.
pub fn document(data: &[u8]) {
    if let Ok(doc) = OfficialDocument::parse(data) {
        let text = super::reading::Reading::of(&doc, &[]).to_text();
        assert!(text.contains(&doc.subject), "the reading lacks the subject");
        for name in doc.attachment_entities.iter() {
            assert!(Some(name) != doc.roster_entity.as_ref() && Some(name) != doc.message_entity.as_ref());
        }
    }
}

/// The SW recipient list.
pub fn roster(data: &[u8]) {
    let _ = roster::parse(data);
}

/// The boundary of the multipart seeds (`fuzz/corpus/multipart`).
pub const MULTIPART_BOUNDARY: &str = "gwx-fuzz-boundary";

fn multipart_events(data: &[u8], chunk: usize) -> Result<Vec<Event>, multipart::Malformed> {
    let limits = multipart::Limits { max_header_bytes: 1024, max_parts: 16 };
    let mut r = multipart::Reader::new(MULTIPART_BOUNDARY, limits);
    let mut events = Vec::new();
    let push = |e: Event, events: &mut Vec<Event>| match (events.last_mut(), e) {
        // Data may arrive in other pieces; compare it joined.
        (Some(Event::Data(prev)), Event::Data(more)) => *prev = [&prev[..], &more[..]].concat().into(),
        (_, e) => events.push(e),
    };
    for piece in data.chunks(chunk.max(1)) {
        r.feed(piece);
        while let Some(e) = r.next_event()? {
            push(e, &mut events);
        }
    }
    r.finish_input();
    while let Some(e) = r.next_event()? {
        push(e, &mut events);
    }
    Ok(events)
}

/// The multipart reader: the same events, and the same verdict, whether
/// the body arrives at once or in small pieces; never more part bytes
/// than the body had.
pub fn multipart(data: &[u8]) {
    let whole = multipart_events(data, data.len());
    let chunk = 1 + data.first().map_or(0, |b| usize::from(*b) % 97);
    let pieces = multipart_events(data, chunk);
    match (&whole, &pieces) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "events differ with chunks of {chunk}"),
        (Err(_), Err(_)) => {}
        _ => panic!("verdicts differ with chunks of {chunk}: {whole:?} / {pieces:?}"),
    }
    if let Ok(events) = whole {
        let bytes: usize = events.iter().map(|e| if let Event::Data(d) = e { d.len() } else { 0 }).sum();
        assert!(bytes <= data.len());
    }
}

/// Attachment sniffing and the streaming text check: the text check fed in
/// pieces says what a check of the whole says.
pub fn attachment(data: &[u8]) {
    let text = std::str::from_utf8(data).is_ok() && !data.contains(&0);
    let mut check = TextCheck::default();
    for piece in data.chunks(1 + data.len() % 7) {
        check.feed(piece);
    }
    assert_eq!(check.finish(), text, "the streaming text check disagrees");
    let sniffed = attachment::sniff(data, text);
    for (name, ext) in [("a.pdf", "pdf"), ("a.odt", "odt"), ("a.txt", "txt"), ("a.png", "png")] {
        let _ = attachment::check(name, Some(ext), &sniffed);
    }
}
