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
//!
//! Well-formedness is XML 1.0's (fifth edition) with Namespaces in XML 1.0,
//! as libxml2 (`xmllint`) checks it: quick-xml tokenises, and this module
//! checks what quick-xml lets through — the characters allowed anywhere,
//! names, start tags and attribute values (parsed here, strictly), comments
//! (`--`), the XML declaration (first, once, well-formed), processing
//! instruction targets, `]]>` in text, XML whitespace (not Unicode's)
//! outside the root, one byte-order mark at most, namespace prefixes bound
//! and declared correctly. `tests/corpus` holds the cases, checked against
//! `xmllint` by `tests/api/corpus.rs`.

use quick_xml::Reader;

pub use super::encoding::Charset;
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

/// The namespace of the `xml:` prefix, bound in every document.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations (`xmlns`, `xmlns:p`).
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The name as written (with its prefix, if any).
    pub name: String,
    /// The namespace the name is in, resolved; `None`: no namespace.
    pub ns: Option<String>,
    /// The name without its prefix.
    pub local: String,
    /// The attributes as written, namespace declarations included.
    pub attrs: Vec<Attribute>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attribute {
    /// As written.
    pub name: String,
    /// Resolved: an unprefixed attribute is in no namespace; `xmlns` and
    /// `xmlns:p` are in [`XMLNS_NS`].
    pub ns: Option<String>,
    pub local: String,
    /// The normalised value (references replaced, whitespace as XML says).
    pub value: String,
}

impl Element {
    /// The value of the attribute written `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|a| a.name == name).map(|a| a.value.as_str())
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
        !self.text().chars().all(is_space)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub doctype: Option<Doctype>,
    pub root: Element,
    /// The encoding the file was in (the tree is UTF-8 whatever it was).
    pub charset: Charset,
}

/// Parses `bytes` (UTF-8 or Big5, as declared) into a tree within `limits`.
pub fn parse(bytes: &[u8], limits: Limits) -> Result<Document, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::Malformed(format!("larger than the limit of {} bytes", limits.max_bytes)));
    }
    let (text, charset) = super::encoding::decode(bytes).map_err(|e| XmlError::Malformed(e.0))?;
    let text = text.as_ref();
    if text.starts_with('\u{feff}') {
        return Err(XmlError::Malformed("a second byte-order mark (U+FEFF) before the document".into()));
    }
    check_chars(text)?;
    let mut reader = Reader::from_str(text);
    let mut doctype = None;
    let mut stack: Vec<Element> = Vec::new();
    let mut scopes = Scopes::default();
    let mut root = None;
    let mut count = 0usize;
    let bad = |e: quick_xml::Error, pos: u64| XmlError::Malformed(format!("at byte {pos}: {e}"));

    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| bad(e, pos))?;
        match event {
            Event::Decl(d) => {
                if pos != 0 {
                    return Err(XmlError::Malformed(format!(
                        "at byte {pos}: the XML declaration must come first, before anything else"
                    )));
                }
                check_declaration(&d)?;
            }
            Event::DocType(d) => {
                if root.is_some() || !stack.is_empty() || doctype.is_some() {
                    return Err(XmlError::Malformed("misplaced DOCTYPE".into()));
                }
                doctype = Some(parse_doctype(&d.xml10_content())?);
            }
            Event::Start(s) => {
                count += 1;
                if root.is_some() {
                    return Err(XmlError::Malformed("content after the root element".into()));
                }
                let el = start(&s, count, &limits, &mut scopes)?;
                stack.push(el);
                if stack.len() > limits.max_depth {
                    return Err(XmlError::Malformed(format!("nested deeper than {} levels", limits.max_depth)));
                }
            }
            Event::Empty(s) => {
                count += 1;
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::Malformed(format!("nested deeper than {} levels", limits.max_depth)));
                }
                let el = start(&s, count, &limits, &mut scopes)?;
                scopes.pop();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None if root.is_none() => root = Some(el),
                    None => return Err(XmlError::Malformed("content after the root element".into())),
                }
            }
            Event::End(_) => {
                // quick-xml checks that end names match.
                let el = stack.pop().ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                scopes.pop();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if t.contains("]]>") {
                    return Err(XmlError::Malformed(format!("at byte {pos}: ']]>' is not allowed in text")));
                }
                push_text(&mut stack, &t.xml10_content())?
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(XmlError::Malformed("a CDATA section outside the root element".into()));
                }
                push_text(&mut stack, &c.into_inner())?
            }
            Event::GeneralRef(r) => {
                let ch = resolve(&r)?;
                push_text(&mut stack, ch.encode_utf8(&mut [0; 4]))?;
            }
            Event::Comment(c) => check_comment(&c)?,
            Event::PI(p) => check_pi_target(p.target())?,
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
    Ok(Document { doctype, root, charset })
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
        None if t.chars().all(is_space) => Ok(()),
        None => Err(XmlError::Malformed("text outside the root element".into())),
    }
}

/// XML's white space (production S): not Unicode's, which has more.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// A character XML 1.0 allows in a document (production Char).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn check_chars(text: &str) -> Result<(), XmlError> {
    match text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        Some((at, c)) => {
            Err(XmlError::Malformed(format!("at byte {at}: the character U+{:04X} is not allowed in XML", c as u32)))
        }
        None => Ok(()),
    }
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}' | '\u{f8}'..='\u{2ff}'
        | '\u{370}'..='\u{37d}' | '\u{37f}'..='\u{1fff}' | '\u{200c}'..='\u{200d}' | '\u{2070}'..='\u{218f}'
        | '\u{2c00}'..='\u{2fef}' | '\u{3001}'..='\u{d7ff}' | '\u{f900}'..='\u{fdcf}' | '\u{fdf0}'..='\u{fffd}'
        | '\u{10000}'..='\u{effff}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || matches!(c, '-' | '.' | '0'..='9' | '\u{b7}' | '\u{300}'..='\u{36f}' | '\u{203f}'..='\u{2040}')
}

/// An XML Name (production Name).
pub fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(is_name_start) && c.all(is_name_char)
}

/// A name as Namespaces in XML allows it: `local` or `prefix:local`, each
/// part a Name without a colon. Returns (prefix, local).
fn qname<'a>(name: &'a str, what: &str) -> Result<(Option<&'a str>, &'a str), XmlError> {
    let ncname = |s: &str| !s.contains(':') && is_name(s);
    match name.split_once(':') {
        None if ncname(name) => Ok((None, name)),
        Some((p, l)) if ncname(p) && ncname(l) => Ok((Some(p), l)),
        _ if is_name(name) => Err(XmlError::Malformed(format!("{what} '{name}' is not a namespace-qualified name"))),
        _ => Err(XmlError::Malformed(format!("{what} '{name}' is not an XML name"))),
    }
}

/// Comments may not contain `--` nor end in `-`.
fn check_comment(c: &str) -> Result<(), XmlError> {
    if c.contains("--") || c.ends_with('-') {
        return Err(XmlError::Malformed("'--' inside a comment".into()));
    }
    Ok(())
}

fn check_pi_target(target: &str) -> Result<(), XmlError> {
    if target.eq_ignore_ascii_case("xml") {
        return Err(XmlError::Malformed(format!("the processing-instruction target '{target}' is reserved")));
    }
    if !is_name(target) || target.contains(':') {
        return Err(XmlError::Malformed(format!("'{target}' is not a processing-instruction target")));
    }
    Ok(())
}

/// `<?xml version="1.x" encoding="…" standalone="yes|no"?>`, in that order;
/// only UTF-8 (any spelling) is accepted as the encoding.
fn check_declaration(d: &quick_xml::events::BytesDecl<'_>) -> Result<(), XmlError> {
    let bad = |m: &str| XmlError::Malformed(format!("the XML declaration: {m}"));
    let body = d.strip_prefix("xml").ok_or_else(|| bad("malformed"))?;
    let mut p = Cursor { s: body };
    let pseudo = |p: &mut Cursor<'_>, name: &str| -> Result<Option<String>, XmlError> {
        let before = p.s;
        if !p.s.starts_with(is_space) {
            return Ok(None);
        }
        p.ws();
        if !p.eat(name) {
            p.s = before;
            return Ok(None);
        }
        p.ws();
        if !p.eat("=") {
            return Err(bad(&format!("'=' expected after {name}")));
        }
        p.ws();
        let q = p.s.chars().next().filter(|c| *c == '"' || *c == '\'').ok_or_else(|| bad("a quoted value expected"))?;
        let rest = &p.s[1..];
        let end = rest.find(q).ok_or_else(|| bad("an unterminated value"))?;
        let v = rest[..end].to_owned();
        p.s = &rest[end + 1..];
        Ok(Some(v))
    };
    let version = pseudo(&mut p, "version")?.ok_or_else(|| bad("version is required and comes first"))?;
    let digits = version.strip_prefix("1.").unwrap_or("");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("version '{version}' is not 1.x")));
    }
    if let Some(enc) = pseudo(&mut p, "encoding")? {
        let mut c = enc.chars();
        let name_ok = c.next().is_some_and(|c| c.is_ascii_alphabetic())
            && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(bad(&format!("'{enc}' is not an encoding name")));
        }
        // `encoding::decode` has read the file in the encoding it names.
    }
    if let Some(sd) = pseudo(&mut p, "standalone")?
        && sd != "yes"
        && sd != "no"
    {
        return Err(bad(&format!("standalone must be yes or no, not '{sd}'")));
    }
    p.ws();
    if !p.s.is_empty() {
        return Err(bad("unexpected text"));
    }
    Ok(())
}

/// A reference by its body (between `&` and `;`), in text or in an
/// attribute value: a character reference to a character XML allows, or
/// one of the five predefined entities; any other entity is refused.
fn resolve(body: &str) -> Result<char, XmlError> {
    match body.strip_prefix('#') {
        Some(num) => char_reference(num)
            .ok_or_else(|| XmlError::Malformed(format!("&{body}; is not a reference to a character XML allows"))),
        None => predefined(body),
    }
}

fn predefined(name: &str) -> Result<char, XmlError> {
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other if is_name(other) => {
            Err(XmlError::Unsafe(format!("entity reference &{other}; is not allowed (only the predefined entities)")))
        }
        other => Err(XmlError::Malformed(format!("'&{other};' is not a reference"))),
    }
}

/// A character reference's value (`#123`, `#x7B`).
fn char_reference(body: &str) -> Option<char> {
    let n = match body.strip_prefix('x') {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) => body.parse().ok()?,
        None => return None,
    };
    char::from_u32(n).filter(|c| is_xml_char(*c))
}

/// An attribute value between its quotes, normalised as XML 1.0 §3.3.3
/// says for CDATA: references replaced, each white-space character (a
/// CR LF pair counting as one) a space; `<` is not allowed.
fn attribute_value(raw: &str, element: &str, key: &str) -> Result<String, XmlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        match c {
            b'<' => {
                return Err(XmlError::Malformed(format!(
                    "<{element} {key}>: '<' is not allowed in an attribute value"
                )));
            }
            b'&' => {
                let end = rest.find(';').ok_or_else(|| {
                    XmlError::Malformed(format!("<{element} {key}>: '&' must begin a reference ending in ';'"))
                })?;
                let body = &rest[..end];
                rest = &rest[end + 1..];
                let ch = resolve(body).map_err(|e| match e {
                    XmlError::Unsafe(m) => XmlError::Unsafe(format!("<{element} {key}>: {m}")),
                    XmlError::Malformed(m) => XmlError::Malformed(format!("<{element} {key}>: {m}")),
                })?;
                out.push(ch);
            }
            b'\r' => {
                rest = rest.strip_prefix('\n').unwrap_or(rest);
                out.push(' ');
            }
            _ => out.push(' '),
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The namespace bindings in scope: (prefix, URI), "" the default
/// namespace (an empty URI undeclares it), one frame per open element.
#[derive(Default)]
struct Scopes {
    bindings: Vec<(String, String)>,
    frames: Vec<usize>,
}

impl Scopes {
    fn push(&mut self, new: Vec<(String, String)>) {
        self.frames.push(self.bindings.len());
        self.bindings.extend(new);
    }

    fn pop(&mut self) {
        let at = self.frames.pop().unwrap_or(0);
        self.bindings.truncate(at);
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        self.bindings.iter().rev().find(|(p, _)| p == prefix).map(|(_, u)| u.as_str()).filter(|u| !u.is_empty())
    }
}

/// A start tag (`name (S attribute)* S?`, read here rather than by
/// quick-xml, which is lenient), its namespace declarations pushed on
/// `scopes` (the caller pops them at the element's end).
fn start(s: &BytesStart<'_>, count: usize, limits: &Limits, scopes: &mut Scopes) -> Result<Element, XmlError> {
    if count > limits.max_elements {
        return Err(XmlError::Malformed(format!("more than {} elements", limits.max_elements)));
    }
    let raw: &str = s;
    let name_end = raw.find(is_space).unwrap_or(raw.len());
    let name = raw[..name_end].to_owned();
    let mut rest = &raw[name_end..];
    let mut written: Vec<(String, String)> = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_space);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(XmlError::Malformed(format!("<{name}>: white space is required between attributes")));
        }
        rest = trimmed;
        let key_end = rest.find(|c: char| is_space(c) || c == '=').unwrap_or(rest.len());
        let key = &rest[..key_end];
        if !is_name(key) {
            return Err(XmlError::Malformed(format!("<{name}>: '{key}' is not an attribute name")));
        }
        rest = rest[key_end..].trim_start_matches(is_space);
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| XmlError::Malformed(format!("<{name}>: attribute {key} has no value")))?
            .trim_start_matches(is_space);
        let q = rest
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| XmlError::Malformed(format!("<{name}>: the value of {key} must be quoted")))?;
        let close = rest[1..]
            .find(q)
            .ok_or_else(|| XmlError::Malformed(format!("<{name}>: the value of {key} is not terminated")))?;
        let value = attribute_value(&rest[1..1 + close], &name, key)?;
        rest = &rest[close + 2..];
        if written.iter().any(|(k, _)| k == key) {
            return Err(XmlError::Malformed(format!("<{name}>: duplicate attribute {key}")));
        }
        written.push((key.to_owned(), value));
        if written.len() > limits.max_attributes {
            return Err(XmlError::Malformed(format!("<{name}>: more than {} attributes", limits.max_attributes)));
        }
    }

    // Namespace declarations first: they apply to this element's own names.
    let mut declared = Vec::new();
    for (key, uri) in &written {
        let prefix = if key == "xmlns" {
            ""
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            p
        } else {
            continue;
        };
        let ns_err = |m: String| Err(XmlError::Malformed(format!("<{name} {key}>: {m}")));
        if prefix == "xmlns" {
            return ns_err("the prefix xmlns cannot be declared".into());
        }
        if prefix == "xml" && uri != XML_NS {
            return ns_err(format!("the prefix xml is bound to {XML_NS} only"));
        }
        if prefix != "xml" && uri == XML_NS || uri == XMLNS_NS {
            return ns_err(format!("{uri} cannot be bound to another prefix"));
        }
        if !prefix.is_empty() && uri.is_empty() {
            return ns_err(format!("the prefix {prefix} cannot be bound to an empty namespace"));
        }
        declared.push((prefix.to_owned(), uri.clone()));
    }
    scopes.push(declared);

    let (prefix, local) = qname(&name, "element name")?;
    let ns = match prefix {
        Some(p) => Some(
            scopes
                .lookup(p)
                .ok_or_else(|| XmlError::Malformed(format!("<{name}>: the namespace prefix {p} is not declared")))?
                .to_owned(),
        ),
        None => scopes.lookup("").map(str::to_owned),
    };
    let mut attrs: Vec<Attribute> = Vec::with_capacity(written.len());
    for (key, value) in written {
        let (ns, local) = if key == "xmlns" {
            (Some(XMLNS_NS.to_owned()), String::new())
        } else {
            let (prefix, local) = qname(&key, "attribute name")?;
            match prefix {
                Some("xmlns") => (Some(XMLNS_NS.to_owned()), local.to_owned()),
                Some(p) => {
                    let uri = scopes.lookup(p).ok_or_else(|| {
                        XmlError::Malformed(format!("<{name} {key}>: the namespace prefix {p} is not declared"))
                    })?;
                    (Some(uri.to_owned()), local.to_owned())
                }
                None => (None, local.to_owned()),
            }
        };
        if let Some(uri) = &ns
            && attrs.iter().any(|a| a.ns == ns && a.local == local && !a.local.is_empty())
        {
            return Err(XmlError::Malformed(format!("<{name}>: attribute {local} in {uri} given twice")));
        }
        attrs.push(Attribute { name: key, ns, local, value });
    }
    Ok(Element { name: name.clone(), ns, local: local.to_owned(), attrs, children: Vec::new() })
}

/// Reads a DOCTYPE declaration's text (after `<!DOCTYPE`): root name,
/// external identifier, and the internal subset under the rules above.
pub fn parse_doctype(text: &str) -> Result<Doctype, XmlError> {
    let mut p = Cursor { s: text.trim_start_matches(is_space) };
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
                check_comment(&p.s[..end])?;
                p.s = &p.s[end + 3..];
            } else if p.eat("<?") {
                let end = p.s.find("?>").ok_or_else(|| XmlError::Malformed("unterminated PI in DOCTYPE".into()))?;
                check_pi_target(p.s[..end].split(is_space).next().unwrap_or(""))?;
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
            .find(|c: char| is_space(c) || matches!(c, '>' | '[' | '"' | '\'' | ';' | '%'))
            .unwrap_or(self.s.len());
        if end == 0 || !is_name(&self.s[..end]) {
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
        assert!(p(r#"<?xml version="1.0" encoding="latin1"?><a/>"#).is_err());
    }
}
