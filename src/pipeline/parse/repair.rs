//! XML repairs: decoded text -> a document feed-rs can read, in one pass.
//!
//! The pass copies the document and fixes what real feeds get wrong, in
//! linear time and without recursion:
//!
//! - **No DTDs.** Every `<!DOCTYPE …>` is dropped, internal subset and all,
//!   so no entity is ever expanded (billion laughs) and no external entity or
//!   DTD is ever fetched. A reference to an entity the DTD defined stays in
//!   the text literally (`&lol9;`), which is what feed-rs does with unknown
//!   entities anyway.
//! - **References.** HTML named entities (`&nbsp;`, `&eacute;`) become
//!   numeric references; XML's five are kept; an unknown name and a bare `&`
//!   are escaped to show literally; numeric references the parser would
//!   reject (`&#0;`, `&#X41;`, `&#150;`) are fixed. CDATA sections, comments
//!   and processing instructions are copied untouched.
//! - **Nesting.** More than [`MAX_DEPTH`] open elements is an error: nothing
//!   that deep is a feed, and a recursive parser would overflow its stack on
//!   it, which no `catch_unwind` can stop. An end tag that closes an outer
//!   element also closes the ones left open inside it (`<br>` in an
//!   unescaped description), a stray end tag is dropped, and `br`, `hr`,
//!   `img` and `wbr` are void as in HTML. Inside an RSS `description` or
//!   `content:encoded`, or an Atom text construct of type `html`, tags are
//!   HTML the publisher forgot to escape, so they are escaped as text; an
//!   Atom text construct of type `text` (or none) that holds an element is
//!   HTML the publisher did not label, so it becomes type `html` first. A
//!   document that ends with elements still open is reported as truncated
//!   rather than closed for it: the
//!   last item would be cut at an unknown point, and the next poll will
//!   likely get the whole document.
//! - **Versions.** `<rss>` with a version feed-rs does not know (none,
//!   `0.93`, `0.94`, `2.00`) is read as 2.0; RSS 0.90's Netscape namespace
//!   becomes RSS 1.0's; Atom 0.3 becomes Atom 1.0 (`atom03.rs`); an Atom
//!   text construct with a MIME type in `type` gets the keyword instead
//!   (not a `content` kept elsewhere, `src`, whose type is a MIME type).
//! - Anything after the root element ends is dropped, as are stray
//!   declarations and `<!…>` markup feed-rs would trip on.
//!
//! Control characters XML forbids are removed before the pass, so nothing
//! downstream (the store, the renderers) ever sees them.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::atom03;
use super::charset::declare_utf8;
use super::html_entities;
use crate::markup::{escape_text, xml_chars};

/// The deepest element nesting a document may have. Real feeds nest a few
/// levels, XHTML content a few dozen.
pub const MAX_DEPTH: usize = 512;

/// RSS 0.90's namespace, which feed-rs does not read.
pub(super) const NS_RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
/// RSS 1.0's namespace.
const NS_RSS10: &str = "http://purl.org/rss/1.0/";

/// The RSS versions feed-rs 3.0 dispatches on (`parser/mod.rs`).
const KNOWN_RSS_VERSIONS: &[&str] = &["2.0", "", "0.91", "0.92"];

/// HTML elements that never have content, so an unclosed one is not an
/// error. Only names no feed format uses for an element of its own (RSS
/// has `<link>` and `<source>`).
const VOID: &[&str] = &["br", "hr", "img", "wbr"];

/// Why the pass gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairError {
    /// More than [`MAX_DEPTH`] elements open at once.
    TooDeep,
    /// The document ended inside the named element.
    Truncated { open: String },
}

/// What the pass changed, for the debug log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Repairs {
    pub doctype_removed: bool,
    pub html_entities: usize,
    pub escaped: usize,
    pub closed_tags: usize,
    pub dropped: usize,
    pub rss_version: Option<String>,
    pub escaped_markup: usize,
    pub atom03: bool,
    pub rss090: bool,
}

impl Repairs {
    pub fn is_empty(&self) -> bool {
        *self == Repairs::default()
    }
}

/// The root element of a document, found by skipping its prolog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The name without its prefix (`RDF` for `rdf:RDF`).
    pub local: String,
    /// The namespace the root's own prefix (or the default) is bound to
    /// on the root element, if it says.
    pub namespace: Option<String>,
    pub version: Option<String>,
}

impl Root {
    /// Whether feed-rs has a parser for this root (after our repairs).
    pub fn is_feed(&self) -> bool {
        match self.local.as_str() {
            "rss" | "RDF" => true,
            "feed" | "entry" => self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == atom03::NS_10 || ns == atom03::NS_03),
            _ => false,
        }
    }

    fn is_atom03(&self) -> bool {
        matches!(self.local.as_str(), "feed" | "entry")
            && match self.namespace.as_deref() {
                Some(ns) => ns == atom03::NS_03,
                None => self.version.as_deref().map(str::trim) == Some("0.3"),
            }
    }
}

/// The root element of `text`, which must start at its first `<` (the
/// caller trims what comes before). `None` when the text does not start
/// with markup or ends before any element.
pub fn root_element(text: &str) -> Option<Root> {
    let b = text.as_bytes();
    let mut pos = 0;
    loop {
        while b.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        let rest = &b[pos..];
        if rest.starts_with(b"<?") {
            pos += find(rest, b"?>")? + 2;
        } else if rest.starts_with(b"<!--") {
            pos += find(rest, b"-->")? + 3;
        } else if starts_with_doctype(rest) {
            pos += doctype_len(rest)?;
        } else if rest.first() == Some(&b'<') && rest.get(1).copied().is_some_and(is_name_start) {
            let tag = read_start_tag(text, pos)?;
            let (prefix, local) = split_name(tag.name);
            let xmlns_attr =
                prefix.map_or(Cow::Borrowed("xmlns"), |p| Cow::Owned(format!("xmlns:{p}")));
            let attr = |n: &str| {
                tag.attrs
                    .iter()
                    .find(|a| a.name == n)
                    .map(|a| a.value.trim().to_string())
            };
            return Some(Root {
                local: local.to_string(),
                namespace: attr(&xmlns_attr),
                version: attr("version"),
            });
        } else {
            return None;
        }
    }
}

/// Repairs `text` (UTF-8, starting at its first `<`) for feed-rs.
pub fn repair(text: &str) -> Result<(String, Repairs), RepairError> {
    let mut pass = Pass {
        src: text,
        b: text.as_bytes(),
        pos: 0,
        out: String::with_capacity(text.len() + text.len() / 16),
        stack: Vec::new(),
        ns: Vec::new(),
        in_scope: HashMap::new(),
        kind: Kind::Other,
        markup_as_text: None,
        root_done: false,
        repairs: Repairs::default(),
    };
    pass.run()?;
    Ok((pass.out, pass.repairs))
}

/// What the root said the document is, which decides the repairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Atom03,
    Atom10,
    /// RSS 0.9x, 1.0 or 2.0.
    Rss,
    Other,
}

/// A namespace binding in force: the element depth that declared it and
/// its prefix's [`scope_key`].
struct Binding {
    depth: usize,
    prefix: String,
}

/// `prefix` (`None` for the default namespace) as a key of
/// [`Pass::in_scope`]: the default namespace is the empty key, and the
/// empty prefix of a malformed `xmlns:=""` is `:`, which no prefix holds.
fn scope_key(prefix: Option<&str>) -> &str {
    match prefix {
        None => "",
        Some("") => ":",
        Some(p) => p,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Atom03,
    Atom10,
    Other,
}

/// An open element.
struct Frame {
    /// As written in the document, to match its end tag.
    src_name: String,
    /// As written to the output (renamed for Atom 0.3).
    out_name: String,
    /// An Atom 0.3 `created`, which becomes `published` if its entry turns
    /// out to have no `issued`.
    is_created: bool,
    /// For an Atom 0.3 `entry`: what the entry has seen so far.
    entry: Option<Entry03>,
    /// For a base64 Atom 0.3 text construct: where its content starts in
    /// the output.
    base64_from: Option<usize>,
}

#[derive(Default)]
struct Entry03 {
    issued: bool,
    /// Output positions of `created` local names, start and end tags.
    created: Vec<usize>,
}

struct Pass<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    out: String,
    stack: Vec<Frame>,
    /// The bindings in force, in the order they were declared.
    ns: Vec<Binding>,
    /// For each prefix in [`Pass::ns`], what it is bound to, innermost
    /// last: a lookup per element that does not walk the bindings (an
    /// element declaring 100,000 of them made every element after it cost
    /// 100,000 steps).
    in_scope: HashMap<String, Vec<Ns>>,
    kind: Kind,
    /// The depth of the element whose content is HTML that should have
    /// been escaped, while inside one.
    markup_as_text: Option<usize>,
    root_done: bool,
    repairs: Repairs,
}

impl Pass<'_> {
    fn run(&mut self) -> Result<(), RepairError> {
        while self.pos < self.b.len() && !self.root_done {
            let rest = &self.b[self.pos..];
            let run = memchr::memchr2(b'<', b'&', rest).unwrap_or(rest.len());
            self.out.push_str(&self.src[self.pos..self.pos + run]);
            self.pos += run;
            match self.b.get(self.pos) {
                Some(b'&') => {
                    self.pos += reference(&self.b[self.pos..], &mut self.out, &mut self.repairs);
                }
                Some(b'<') => self.markup()?,
                _ => {}
            }
        }
        match self.stack.last() {
            Some(open) => Err(RepairError::Truncated {
                open: open.src_name.clone(),
            }),
            None => Ok(()),
        }
    }

    fn markup(&mut self) -> Result<(), RepairError> {
        let rest = &self.b[self.pos..];
        if let Some(depth) = self.markup_as_text {
            // Inside HTML that should have been escaped: every tag is text,
            // until an end tag closes this element or one around it.
            if rest.starts_with(b"<![CDATA[") {
                self.copy_through(b"]]>");
            } else if rest.starts_with(b"</")
                && self.stack[..depth]
                    .iter()
                    .any(|f| f.src_name.as_bytes() == name_at_start(&rest[2..]))
            {
                self.end_tag();
            } else {
                self.repairs.escaped_markup += 1;
                self.out.push_str("&lt;");
                self.pos += 1;
            }
            return Ok(());
        }
        if rest.starts_with(b"<!--") {
            self.copy_through(b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            self.copy_through(b"]]>");
        } else if starts_with_doctype(rest) {
            self.repairs.doctype_removed = true;
            self.pos = doctype_len(rest).map_or(self.b.len(), |n| self.pos + n);
        } else if rest.starts_with(b"<!") {
            // Nothing else starting with `<!` is allowed in a document body.
            self.repairs.dropped += 1;
            self.pos = find(rest, b">").map_or(self.b.len(), |n| self.pos + n + 1);
        } else if rest.starts_with(b"<?") {
            let end = find(rest, b"?>").map_or(self.b.len(), |n| self.pos + n + 2);
            let pi = &self.src[self.pos..end];
            if is_xml_declaration(pi) {
                if self.out.trim().is_empty() {
                    self.out.clear();
                    self.out.push_str(&declare_utf8(pi));
                } else {
                    // A second declaration: two documents glued together.
                    self.repairs.dropped += 1;
                }
            } else {
                self.out.push_str(pi);
            }
            self.pos = end;
        } else if rest.starts_with(b"</") {
            self.end_tag();
        } else if rest.get(1).copied().is_some_and(is_name_start) {
            self.start_tag()?;
        } else {
            // `a < b` in text.
            self.repairs.escaped += 1;
            self.out.push_str("&lt;");
            self.pos += 1;
        }
        Ok(())
    }

    /// Copies from the cursor up to and including `end`, or to the end of
    /// the document if it never comes (the parser reports that).
    fn copy_through(&mut self, end: &[u8]) {
        let stop =
            find(&self.b[self.pos..], end).map_or(self.b.len(), |n| self.pos + n + end.len());
        self.out.push_str(&self.src[self.pos..stop]);
        self.pos = stop;
    }

    fn start_tag(&mut self) -> Result<(), RepairError> {
        let Some(tag) = read_start_tag(self.src, self.pos) else {
            // The document ends inside the tag.
            self.pos = self.b.len();
            if self.stack.is_empty() {
                return Ok(());
            }
            return Err(RepairError::Truncated {
                open: self
                    .stack
                    .last()
                    .map(|f| f.src_name.clone())
                    .unwrap_or_default(),
            });
        };
        self.pos = tag.end;
        let depth = self.stack.len() + 1;
        if depth > MAX_DEPTH {
            return Err(RepairError::TooDeep);
        }
        let is_root = self.stack.is_empty();
        let (prefix, local) = split_name(tag.name);
        let mut attrs = tag.attrs;

        if is_root {
            self.kind = self.root_kind(local, prefix, &attrs);
        }
        self.declare_namespaces(&mut attrs, depth);
        let ns = self.resolve(prefix);
        let parent_local = self
            .stack
            .last()
            .map(|f| split_name(&f.out_name).1.to_string());

        if is_root && local == "rss" {
            self.repair_rss_version(&mut attrs);
        }
        let (out_local, created, base64) =
            self.repair_atom_names(ns, local, parent_local.as_deref(), &mut attrs);

        let void = prefix.is_none() && VOID.iter().any(|v| v.eq_ignore_ascii_case(local));
        if !tag.self_closing
            && self.is_text_typed(ns, local, &attrs)
            && holds_element(self.src, tag.end, tag.name)
        {
            // Text may hold no element (RFC 4287 3.1.1.1): one that does is
            // HTML the publisher did not label, not text to show as tags.
            attrs.retain(|a| a.name != "type");
            attrs.push(Attr {
                name: "type",
                value: Cow::Borrowed("html"),
                quote: b'"',
            });
        }
        let holds_html = self.holds_html(ns, prefix, local, &attrs);
        let out_name = match prefix {
            Some(p) => format!("{p}:{out_local}"),
            None => out_local.to_string(),
        };
        self.out.push('<');
        let name_at = self.out.len() + prefix.map_or(0, |p| p.len() + 1);
        self.out.push_str(&out_name);
        for a in &attrs {
            self.write_attr(a);
        }
        if tag.self_closing || void {
            self.out.push_str("/>");
            self.unbind(depth);
            if is_root {
                self.root_done = true;
            }
            return Ok(());
        }
        self.out.push('>');
        let mut frame = Frame {
            src_name: tag.name.to_string(),
            out_name,
            is_created: false,
            entry: None,
            base64_from: base64.then_some(self.out.len()),
        };
        if ns == Ns::Atom03 {
            if local == "entry" {
                frame.entry = Some(Entry03::default());
            } else if created {
                frame.is_created = true;
                if let Some(entry) = self.current_entry() {
                    entry.created.push(name_at);
                }
            }
        }
        self.stack.push(frame);
        if holds_html {
            self.markup_as_text = Some(depth);
        }
        Ok(())
    }

    /// Records the namespaces this element declares, and rewrites the ones
    /// feed-rs does not read: Atom 0.3's becomes Atom 1.0's in an Atom 0.3
    /// document, RSS 0.90's becomes RSS 1.0's.
    fn declare_namespaces(&mut self, attrs: &mut [Attr<'_>], depth: usize) {
        for a in attrs.iter_mut() {
            let declared = if a.name == "xmlns" {
                Some(None)
            } else {
                a.name.strip_prefix("xmlns:").map(Some)
            };
            let Some(declared) = declared else { continue };
            let uri = a.value.trim();
            let ns = match uri {
                atom03::NS_03 => Ns::Atom03,
                atom03::NS_10 => Ns::Atom10,
                _ => Ns::Other,
            };
            let prefix = scope_key(declared).to_string();
            self.in_scope.entry(prefix.clone()).or_default().push(ns);
            self.ns.push(Binding { depth, prefix });
            if self.kind == Kind::Atom03 && ns == Ns::Atom03 {
                a.value = Cow::Borrowed(atom03::NS_10);
            } else if uri == NS_RSS090 {
                self.repairs.rss090 = true;
                a.value = Cow::Borrowed(NS_RSS10);
            }
        }
    }

    /// An `<rss>` root with a version feed-rs refuses (or none) is read as
    /// RSS 2.0, which every version it could be is a subset of.
    fn repair_rss_version(&mut self, attrs: &mut Vec<Attr<'_>>) {
        let version = attrs.iter().position(|a| a.name == "version");
        let known = version.is_some_and(|i| KNOWN_RSS_VERSIONS.contains(&attrs[i].value.trim()));
        if !known {
            self.repairs.rss_version =
                Some(version.map_or_else(|| "none".into(), |i| attrs[i].value.to_string()));
            match version {
                Some(i) => attrs[i].value = Cow::Borrowed("2.0"),
                None => attrs.push(Attr {
                    name: "version",
                    value: Cow::Borrowed("2.0"),
                    quote: b'"',
                }),
            }
        }
    }

    /// Atom 0.3 element and attribute names in their Atom 1.0 form, and
    /// sloppy Atom 1.0 text types fixed. Returns the element's output
    /// local name, whether it is an Atom 0.3 `created` and whether its text
    /// is base64.
    fn repair_atom_names<'n>(
        &mut self,
        ns: Ns,
        local: &'n str,
        parent_local: Option<&str>,
        attrs: &mut Vec<Attr<'_>>,
    ) -> (&'n str, bool, bool) {
        let mut out_local = local;
        let mut created = false;
        let mut base64 = false;
        if ns == Ns::Atom03 {
            self.repairs.atom03 = true;
            match local {
                "created" => created = true,
                "issued" => {
                    if let Some(entry) = self.current_entry() {
                        entry.issued = true;
                    }
                }
                _ => {}
            }
            out_local = atom03::element_name(local, parent_local);
            if atom03::is_text_construct(local) {
                let get = |n: &str| {
                    attrs
                        .iter()
                        .find(|a| a.name == n)
                        .map(|a| a.value.to_string())
                };
                let ty = atom03::text_type(get("type").as_deref(), get("mode").as_deref());
                attrs.retain(|a| a.name != "mode" && a.name != "type");
                attrs.push(Attr {
                    name: "type",
                    value: Cow::Borrowed(ty.atom10),
                    quote: b'"',
                });
                base64 = ty.base64;
            }
            if local == "generator" {
                for a in attrs.iter_mut().filter(|a| a.name == "url") {
                    a.name = "uri";
                }
            }
        } else if ns == Ns::Atom10
            && atom03::is_atom10_text_construct(local)
            // Content kept elsewhere (`src`) names a MIME type, which
            // feed-rs requires there.
            && !(local == "content" && attrs.iter().any(|a| a.name == "src"))
        {
            for a in attrs.iter_mut().filter(|a| a.name == "type") {
                if let Some(fixed) = atom03::sloppy_atom10_type(local, &a.value) {
                    a.value = Cow::Borrowed(fixed);
                }
            }
        }
        (out_local, created, base64)
    }

    /// Whether this is an Atom text construct of type `text` (the type
    /// a missing one means), as the pass writes it.
    fn is_text_typed(&self, ns: Ns, local: &str, attrs: &[Attr<'_>]) -> bool {
        let construct = match ns {
            Ns::Atom10 => atom03::is_atom10_text_construct(local),
            Ns::Atom03 => atom03::is_text_construct(local),
            Ns::Other => false,
        };
        construct
            && attrs
                .iter()
                .find(|a| a.name == "type")
                .is_none_or(|a| a.value == "text")
    }

    /// Elements that hold HTML as text. Tags inside one are markup the
    /// publisher forgot to escape; feed-rs would keep only the text before
    /// the first of them.
    fn holds_html(&self, ns: Ns, prefix: Option<&str>, local: &str, attrs: &[Attr<'_>]) -> bool {
        let typed_html = match ns {
            Ns::Atom03 | Ns::Atom10 => {
                atom03::is_atom10_text_construct(local) || atom03::is_text_construct(local)
            }
            Ns::Other => false,
        } && attrs.iter().any(|a| a.name == "type" && a.value == "html");
        typed_html
            || (self.kind == Kind::Rss
                && match prefix {
                    None => local == "description",
                    Some(_) => local == "encoded",
                })
    }

    fn end_tag(&mut self) {
        let start = self.pos + 2;
        let name_len = name_at_start(&self.b[start..]).len();
        let name = &self.src[start..start + name_len];
        self.pos = find(&self.b[start..], b">").map_or(self.b.len(), |n| start + n + 1);
        let Some(at) = self.stack.iter().rposition(|f| f.src_name == name) else {
            self.repairs.dropped += 1;
            return;
        };
        while self.stack.len() > at {
            if self.stack.len() > at + 1 {
                self.repairs.closed_tags += 1;
            }
            self.close_top();
        }
        if self.stack.is_empty() {
            self.root_done = true;
        }
    }

    /// Ends the bindings declared at `depth` and deeper (the last ones:
    /// elements close innermost first).
    fn unbind(&mut self, depth: usize) {
        while let Some(b) = self.ns.pop_if(|b| b.depth >= depth) {
            if let Some(bound) = self.in_scope.get_mut(&b.prefix) {
                bound.pop();
            }
        }
    }

    fn close_top(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let depth = self.stack.len() + 1;
        self.unbind(depth);
        if self.markup_as_text == Some(depth) {
            self.markup_as_text = None;
        }
        if let Some(from) = frame.base64_from {
            let decoded = atom03::decode_base64(&self.out[from..]);
            if let Some(bytes) = decoded {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.out.truncate(from);
                self.out.push_str(&escape_text(&xml_chars(text)));
            }
        }
        self.out.push_str("</");
        let name_at = self.out.len() + frame.out_name.len() - split_name(&frame.out_name).1.len();
        self.out.push_str(&frame.out_name);
        self.out.push('>');
        if frame.is_created
            && let Some(entry) = self.current_entry()
        {
            entry.created.push(name_at);
        }
        if let Some(entry) = frame.entry
            && !entry.issued
        {
            // The entry had no `issued`: its `created` is the nearest thing
            // to a publication date. Later positions first, so the earlier
            // ones stay valid.
            for at in entry.created.iter().rev() {
                self.out
                    .replace_range(*at..*at + "created".len(), "published");
            }
        }
    }

    fn current_entry(&mut self) -> Option<&mut Entry03> {
        self.stack.iter_mut().rev().find_map(|f| f.entry.as_mut())
    }

    fn root_kind(&self, local: &str, prefix: Option<&str>, attrs: &[Attr<'_>]) -> Kind {
        let xmlns = prefix.map_or(Cow::Borrowed("xmlns"), |p| Cow::Owned(format!("xmlns:{p}")));
        let attr = |n: &str| {
            attrs
                .iter()
                .find(|a| a.name == n)
                .map(|a| a.value.trim().to_string())
        };
        let root = Root {
            local: local.to_string(),
            namespace: attr(&xmlns),
            version: attr("version"),
        };
        if root.is_atom03() {
            Kind::Atom03
        } else if matches!(local, "feed" | "entry") {
            Kind::Atom10
        } else if matches!(local, "rss" | "RDF") {
            Kind::Rss
        } else {
            Kind::Other
        }
    }

    /// The namespace of an element with `prefix`, from the bindings in
    /// force. An Atom root that declares no namespace is Atom all the same
    /// (feed-rs assumes so too).
    fn resolve(&self, prefix: Option<&str>) -> Ns {
        let bound = self
            .in_scope
            .get(scope_key(prefix))
            .and_then(|s| s.last().copied());
        match (bound, prefix, self.kind) {
            (Some(ns), _, _) => ns,
            (None, None, Kind::Atom03) => Ns::Atom03,
            (None, None, Kind::Atom10) => Ns::Atom10,
            _ => Ns::Other,
        }
    }

    fn write_attr(&mut self, a: &Attr<'_>) {
        self.out.push(' ');
        self.out.push_str(a.name);
        self.out.push('=');
        let quote = if a.quote == b'\'' { '\'' } else { '"' };
        self.out.push(quote);
        let v = a.value.as_bytes();
        let mut i = 0;
        while i < v.len() {
            let run = memchr::memchr3(b'&', b'<', quote as u8, &v[i..]).unwrap_or(v.len() - i);
            self.out.push_str(&a.value[i..i + run]);
            i += run;
            match v.get(i) {
                Some(b'&') => i += reference(&v[i..], &mut self.out, &mut self.repairs),
                Some(b'<') => {
                    self.out.push_str("&lt;");
                    i += 1;
                }
                Some(_) => {
                    self.out.push_str("&quot;");
                    i += 1;
                }
                None => {}
            }
        }
        self.out.push(quote);
    }
}

/// An attribute as read: `quote` is `"`, `'`, or 0 when it had none.
struct Attr<'a> {
    name: &'a str,
    value: Cow<'a, str>,
    quote: u8,
}

struct StartTag<'a> {
    name: &'a str,
    attrs: Vec<Attr<'a>>,
    self_closing: bool,
    /// Just past the `>`.
    end: usize,
}

/// Reads the start tag at `pos` (its `<`), leniently: unquoted values and
/// bare attribute names are accepted, and a tag that runs into the next
/// `<` ends there. `None` when the document ends inside the tag.
fn read_start_tag(src: &str, pos: usize) -> Option<StartTag<'_>> {
    let b = src.as_bytes();
    let name_start = pos + 1;
    let mut i = name_start;
    while b.get(i).copied().is_some_and(is_name_char) {
        i += 1;
    }
    let name = &src[name_start..i];
    let mut attrs = Vec::new();
    let mut seen = HashSet::new();
    loop {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match b.get(i)? {
            b'>' => {
                return Some(StartTag {
                    name,
                    attrs,
                    self_closing: false,
                    end: i + 1,
                });
            }
            b'/' if b.get(i + 1) == Some(&b'>') => {
                return Some(StartTag {
                    name,
                    attrs,
                    self_closing: true,
                    end: i + 2,
                });
            }
            b'<' => {
                return Some(StartTag {
                    name,
                    attrs,
                    self_closing: false,
                    end: i,
                });
            }
            _ => {}
        }
        let attr_start = i;
        while b.get(i).is_some_and(|c| {
            !c.is_ascii_whitespace() && !matches!(c, b'=' | b'>' | b'<' | b'/' | b'"' | b'\'')
        }) {
            i += 1;
        }
        if i == attr_start {
            // A stray `/`, `=` or quote.
            i += 1;
            continue;
        }
        let attr_name = &src[attr_start..i];
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            // `<option selected>`: HTML's boolean attribute.
            if first_of_its_name(&attrs, &mut seen, attr_name) {
                attrs.push(Attr {
                    name: attr_name,
                    value: Cow::Borrowed(attr_name),
                    quote: 0,
                });
            }
            continue;
        }
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let (value, quote) = match *b.get(i)? {
            q @ (b'"' | b'\'') => {
                let len = b[i + 1..].iter().position(|c| *c == q)?;
                let v = &src[i + 1..i + 1 + len];
                i += len + 2;
                (v, q)
            }
            _ => {
                let start = i;
                while b
                    .get(i)
                    .is_some_and(|c| !c.is_ascii_whitespace() && *c != b'>')
                {
                    i += 1;
                }
                (&src[start..i], 0)
            }
        };
        // A repeated attribute is an error to quick-xml; the first wins.
        if first_of_its_name(&attrs, &mut seen, attr_name) {
            attrs.push(Attr {
                name: attr_name,
                value: Cow::Borrowed(value),
                quote,
            });
        }
    }
}

/// Attributes a tag may have before repeats are looked up in a set rather
/// than by a scan (no allocation for the few attributes real tags have).
const LINEAR_ATTRS: usize = 16;

/// Whether no attribute in `attrs` is named `name`. Past [`LINEAR_ATTRS`]
/// the names are kept in `seen` too, and `name` is added to it: a tag with
/// 100,000 attributes would otherwise cost 10^10 compares.
fn first_of_its_name<'a>(attrs: &[Attr<'a>], seen: &mut HashSet<&'a str>, name: &'a str) -> bool {
    if attrs.len() < LINEAR_ATTRS {
        return !attrs.iter().any(|a| a.name == name);
    }
    if seen.is_empty() {
        seen.extend(attrs.iter().map(|a| a.name));
    }
    seen.insert(name)
}

/// `reference` for the fast path (`fast.rs`), which only asks whether a
/// reference would come out as it went in.
pub(super) fn reference_as_repaired(b: &[u8], out: &mut String) -> usize {
    reference(b, out, &mut Repairs::default())
}

/// Writes the replacement for the reference at the start of `b` (its `&`)
/// to `out`; returns how many bytes of `b` it consumed. A reference that
/// needs no repair is copied as it is.
fn reference(b: &[u8], out: &mut String, repairs: &mut Repairs) -> usize {
    const LONGEST_NAME: usize = 32;
    let body = &b[1..];
    let escape = |out: &mut String, repairs: &mut Repairs| {
        repairs.escaped += 1;
        out.push_str("&amp;");
        1
    };
    let Some(semi) = memchr::memchr(b';', &body[..body.len().min(LONGEST_NAME + 2)]) else {
        return escape(out, repairs);
    };
    let name = &body[..semi];
    let consumed = semi + 2;
    // The whole reference, `&` to `;`: ASCII (checked below) or digits.
    let original =
        |out: &mut String| out.push_str(std::str::from_utf8(&b[..consumed]).unwrap_or_default());
    if let Some(num) = name.strip_prefix(b"#") {
        let parsed = match num.first() {
            Some(b'x' | b'X') => parse_digits(&num[1..], 16),
            _ => parse_digits(num, 10),
        };
        let Some(cp) = parsed else {
            return escape(out, repairs);
        };
        match char_reference(cp, repairs) {
            // Decimal, and the code point it names: already fine.
            Some(fixed)
                if fixed == cp && num.first().is_some_and(|d| (b'1'..=b'9').contains(d)) =>
            {
                original(out)
            }
            Some(fixed) => {
                use std::fmt::Write;
                let _ = write!(out, "&#{fixed};");
            }
            None => {}
        }
        return consumed;
    }
    if name.is_empty() || !name.iter().all(|c| c.is_ascii_alphanumeric()) {
        return escape(out, repairs);
    }
    // ASCII alphanumerics checked above.
    let name = std::str::from_utf8(name).unwrap_or_default();
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        original(out);
    } else if let Some(chars) = html_entities::lookup(name) {
        repairs.html_entities += 1;
        out.push_str(chars);
    } else {
        repairs.escaped += 1;
        out.push_str("&amp;");
        out.push_str(name);
        out.push(';');
    }
    consumed
}

fn parse_digits(digits: &[u8], radix: u32) -> Option<u32> {
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let s = std::str::from_utf8(digits).ok()?;
    if !s.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(s, radix).ok()
}

/// The code point a numeric reference to `cp` should name so that the
/// parser accepts it: windows-1252's meaning for 128–159 (what `&#150;`
/// means in practice, and what HTML does), U+FFFD for what is no character
/// at all, `None` (drop it) for a control character XML forbids. The
/// caller writes it in decimal: quick-xml rejects `&#X`.
fn char_reference(cp: u32, repairs: &mut Repairs) -> Option<u32> {
    const WINDOWS_1252_C1: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let fixed = match cp {
        0x09 | 0x0A | 0x0D => cp,
        0x00..=0x1F | 0xFFFE | 0xFFFF => {
            repairs.escaped += 1;
            return None;
        }
        0x80..=0x9F => WINDOWS_1252_C1[(cp - 0x80) as usize],
        _ if char::from_u32(cp).is_none() => 0xFFFD,
        _ => cp,
    };
    if fixed != cp {
        repairs.escaped += 1;
    }
    Some(fixed)
}

fn is_xml_declaration(pi: &str) -> bool {
    pi.strip_prefix("<?xml")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_whitespace() || c == '?'))
}

fn starts_with_doctype(b: &[u8]) -> bool {
    b.len() >= 9 && b[..2] == *b"<!" && b[2..9].eq_ignore_ascii_case(b"DOCTYPE")
}

/// The length of the `<!DOCTYPE …>` at the start of `b`, internal subset
/// included: `>` inside quotes, comments or the `[…]` subset does not end
/// it. `None` if it never ends.
fn doctype_len(b: &[u8]) -> Option<usize> {
    let mut i = 9;
    let mut in_subset = false;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => i += b[i + 1..].iter().position(|c| *c == q)? + 1,
            b'<' if b[i..].starts_with(b"<!--") => i += find(&b[i..], b"-->")? + 2,
            b'[' => in_subset = true,
            b']' => in_subset = false,
            b'>' if !in_subset => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether the element `name` whose content starts at `src[from..]` has an
/// element inside it, before its end tag (CDATA and comments are text).
fn holds_element(src: &str, from: usize, name: &str) -> bool {
    let b = &src.as_bytes()[from..];
    let mut at = 0;
    while let Some(n) = memchr::memchr(b'<', &b[at..]) {
        let rest = &b[at + n..];
        at += n + 1;
        if rest.starts_with(b"<![CDATA[") {
            at = find(rest, b"]]>").map_or(b.len(), |e| at - 1 + e + 3);
        } else if rest.starts_with(b"<!--") {
            at = find(rest, b"-->").map_or(b.len(), |e| at - 1 + e + 3);
        } else if let Some(end) = rest.strip_prefix(b"</") {
            if name_at_start(end) == name.as_bytes() {
                return false;
            }
        } else if rest.get(1).copied().is_some_and(is_name_start) {
            return true;
        }
    }
    false
}

/// The XML name at the start of `b` (empty if there is none).
fn name_at_start(b: &[u8]) -> &[u8] {
    let len = b.iter().position(|c| !is_name_char(*c)).unwrap_or(b.len());
    &b[..len]
}

fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

fn is_name_char(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == b'-' || c == b'.'
}

/// Where `needle` first occurs in `hay`.
pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(xml: &str) -> String {
        repair(xml).unwrap().0
    }

    /// A document with one tag of 200,000 attributes (unquoted, so the
    /// quick-xml fast path leaves it to this pass) kept a core busy for
    /// minutes: each attribute was checked against all before it. The
    /// first of each name is kept, repeats past the set's threshold too.
    #[test]
    fn a_tag_with_200000_attributes_keeps_the_first_of_each_name() {
        let mut src = String::from("<rss version=\"2.0\"><channel><item id=first flag");
        let mut want = String::from(r#"<rss version="2.0"><channel><item id="first" flag="flag""#);
        let n = 200_000;
        for i in 0..n {
            src.push_str(&format!(" x{i:06}=v"));
            want.push_str(&format!(" x{i:06}=\"v\""));
            if i == n / 2 {
                src.push_str(" id=second flag=no x000000=again");
            }
        }
        let rest = "><title>T</title></item></channel></rss>";
        assert_eq!(fixed(&(src + rest)), want + rest);
    }

    /// A root declaring 100,000 namespaces made every element after it
    /// walk them all, twice (to resolve its prefix, and to drop its own
    /// bindings when it closed): minutes for a 5 MB document. Prefixes
    /// still resolve to the innermost binding, and bindings end with the
    /// element that made them.
    #[test]
    fn many_namespace_bindings_resolve_as_before() {
        let atom03 = atom03::NS_03;
        let atom10 = atom03::NS_10;
        let decls: String = (0..100_000)
            .map(|i| format!(r#" xmlns:p{i}="urn:{i}""#))
            .collect();
        let entries = 2_000;
        let head = |ns: &str| format!(r#"<feed xmlns="{ns}" xmlns:a="{ns}"{decls}>"#);
        let mut src = head(atom03);
        let mut want = head(atom10);
        // Inside, the default namespace is not Atom's: `issued` stays.
        let other = r#"<x:div xmlns:x="urn:x" xmlns="urn:o"><issued>o</issued></x:div>"#;
        src.push_str(other);
        want.push_str(other);
        for i in 0..entries {
            src.push_str(&format!(
                "<entry><issued>{i}</issued><a:modified>m</a:modified></entry>"
            ));
            want.push_str(&format!(
                "<entry><published>{i}</published><a:updated>m</a:updated></entry>"
            ));
        }
        src.push_str("</feed>");
        want.push_str("</feed>");
        assert_eq!(fixed(&src), want);
    }

    #[test]
    fn well_formed_documents_pass_through() {
        let doc = r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title a="1">A &amp; B &#233; &#x263A;</title><!-- c --><![CDATA[<&nbsp;>]]><x/></channel></rss>"#;
        assert_eq!(fixed(doc), doc.replace("&#x263A;", "&#9786;"));
    }

    #[test]
    fn html_entities_become_numeric_outside_cdata() {
        let doc = "<rss version=\"2.0\"><t a=\"x&nbsp;y\">Caf&eacute; &mdash; &nbsp;<![CDATA[&nbsp;]]></t></rss>";
        let (out, repairs) = repair(doc).unwrap();
        assert_eq!(
            out,
            "<rss version=\"2.0\"><t a=\"x&#160;y\">Caf&#233; &#8212; &#160;<![CDATA[&nbsp;]]></t></rss>"
        );
        assert_eq!(repairs.html_entities, 4);
    }

    #[test]
    fn bare_ampersands_and_unknown_entities_show_literally() {
        assert_eq!(
            fixed("<r>AT&T &lol9; a&&b &#xZZ; &#0; &#150;</r>"),
            "<r>AT&amp;T &amp;lol9; a&amp;&amp;b &amp;#xZZ;  &#8211;</r>"
        );
        assert_eq!(
            fixed(r#"<a href="?a=1&b=2"/>"#),
            r#"<a href="?a=1&amp;b=2"/>"#
        );
    }

    #[test]
    fn sound_references_pass_and_odd_numeric_ones_become_decimal() {
        let (out, repairs) =
            repair("<r a=\"&#65;&quot;\">&#65; &#x41; &#X41; &#065; &amp;&lt;&gt;&quot;&apos;</r>")
                .unwrap();
        assert_eq!(
            out,
            "<r a=\"&#65;&quot;\">&#65; &#65; &#65; &#65; &amp;&lt;&gt;&quot;&apos;</r>"
        );
        assert!(repairs.is_empty(), "{repairs:?}");
    }

    #[test]
    fn doctype_with_internal_subset_is_removed() {
        let doc = r#"<?xml version="1.0"?><!DOCTYPE r [ <!ENTITY a "x>y"> <!-- ]> --> <!ENTITY b SYSTEM "file:///etc/passwd"> ]><r>&a;&b;</r>"#;
        let (out, repairs) = repair(doc).unwrap();
        assert_eq!(
            out,
            r#"<?xml version="1.0" encoding="utf-8"?><r>&amp;a;&amp;b;</r>"#
        );
        assert!(repairs.doctype_removed);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(repair(&ok).is_ok());
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(repair(&deep).unwrap_err(), RepairError::TooDeep);
    }

    #[test]
    fn unclosed_and_stray_tags_are_mended() {
        assert_eq!(
            fixed("<r><d>a<br>b<p>c</d></b></r>"),
            "<r><d>a<br/>b<p>c</p></d></r>"
        );
        // In RSS, HTML inside a description is text that was not escaped.
        assert_eq!(
            fixed(
                "<rss version=\"2.0\"><item><description>a<br>b<p>c <![CDATA[<i>]]></item></rss>"
            ),
            "<rss version=\"2.0\"><item><description>a&lt;br>b&lt;p>c <![CDATA[<i>]]></description></item></rss>"
        );
        assert_eq!(fixed("<r>a < b</r>"), "<r>a &lt; b</r>");
        assert_eq!(
            fixed(r#"<r><a href=x.html checked>t</a></r>"#),
            r#"<r><a href="x.html" checked="checked">t</a></r>"#
        );
    }

    #[test]
    fn truncation_is_reported_with_the_open_element() {
        assert_eq!(
            repair("<rss><channel><item><title>A").unwrap_err(),
            RepairError::Truncated {
                open: "title".into()
            }
        );
        assert!(matches!(
            repair("<rss><channel><item x=\"1"),
            Err(RepairError::Truncated { .. })
        ));
    }

    #[test]
    fn content_after_the_root_is_dropped() {
        assert_eq!(fixed("<r></r> junk <b>"), "<r></r>");
        assert_eq!(fixed("<r/><?xml version=\"1.0\"?><r>"), "<r/>");
    }

    #[test]
    fn rss_versions_feed_rs_does_not_know_become_2_0() {
        for v in [
            "",
            " version=\"0.94\"",
            " version=\"0.93\"",
            " version='2.00'",
        ] {
            let (out, repairs) = repair(&format!("<rss{v}><channel/></rss>")).unwrap();
            assert!(out.starts_with("<rss version="), "{out}");
            assert!(out.contains("\"2.0\"") || out.contains("'2.0'"), "{out}");
            assert!(repairs.rss_version.is_some());
        }
        let (out, repairs) = repair("<rss version=\"0.91\"><channel/></rss>").unwrap();
        assert_eq!(out, "<rss version=\"0.91\"><channel/></rss>");
        assert!(repairs.is_empty());
    }

    #[test]
    fn atom03_becomes_atom10() {
        let doc = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><tagline type="text/html" mode="escaped">&lt;b&gt;t&lt;/b&gt;</tagline><entry><created>2003-12-13T08:00:00Z</created><modified>2003-12-13T18:30:02Z</modified><author><name>n</name><url>http://a/</url></author><content type="text/html" mode="base64">PGI+aGk8L2I+</content></entry><entry><issued>2003-12-12T08:00:00Z</issued><created>2003-12-11T08:00:00Z</created></entry></feed>"#;
        let (out, repairs) = repair(doc).unwrap();
        assert!(repairs.atom03);
        assert_eq!(
            out,
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"><subtitle type="html">&lt;b&gt;t&lt;/b&gt;</subtitle><entry><published>2003-12-13T08:00:00Z</published><updated>2003-12-13T18:30:02Z</updated><author><name>n</name><uri>http://a/</uri></author><content type="html">&lt;b&gt;hi&lt;/b&gt;</content></entry><entry><published>2003-12-12T08:00:00Z</published><created>2003-12-11T08:00:00Z</created></entry></feed>"#
        );
    }

    #[test]
    fn atom03_xhtml_content_keeps_its_own_namespace() {
        let doc = r#"<feed xmlns="http://purl.org/atom/ns#"><entry><content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>issued</p><title>x</title></div></content></entry></feed>"#;
        assert_eq!(
            fixed(doc),
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>issued</p><title>x</title></div></content></entry></feed>"#
        );
    }

    #[test]
    fn sloppy_atom10_text_types_are_fixed() {
        assert_eq!(
            fixed(
                r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text/plain">t</title></feed>"#
            ),
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">t</title></feed>"#
        );
    }

    #[test]
    fn rss090_namespace_becomes_rss10() {
        let (out, repairs) = repair(r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel/></rdf:RDF>"#).unwrap();
        assert!(out.contains(r#"xmlns="http://purl.org/rss/1.0/""#), "{out}");
        assert!(repairs.rss090);
    }

    #[test]
    fn root_element_skips_the_prolog() {
        let root = root_element(r#"<?xml version="1.0"?><!-- c --><!DOCTYPE x [<!ENTITY a ">">]><rdf:RDF xmlns:rdf="r"/>"#).unwrap();
        assert_eq!(
            (root.local.as_str(), root.namespace.as_deref()),
            ("RDF", Some("r"))
        );
        assert!(root.is_feed());
        let html = root_element("<!DOCTYPE html><html lang=en><head>").unwrap();
        assert!(!html.is_feed());
        assert_eq!(root_element("plain text"), None);
        assert!(
            !root_element(r#"<feed xmlns="urn:other"/>"#)
                .unwrap()
                .is_feed()
        );
    }
}
