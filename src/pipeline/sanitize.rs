//! Streaming sanitiser: HTML fragments cleaned in one pass, with the
//! same output, byte for byte, as the ammonia configuration it stands in
//! front of (`normalize::sanitize`), or no output at all.
//!
//! Ammonia parses every fragment into a full html5ever DOM (tree
//! construction, reference-counted nodes), walks it and serialises it
//! again; that was about an eighth of a first poll's CPU. Feed content is
//! nearly always plain, well-nested markup, for which the HTML parsing
//! algorithm reduces to a stack of open elements. This module runs that
//! reduced algorithm: it tokenises as the HTML standard does (char
//! references with html5ever's own table, attribute quirks, comments,
//! `<script>`/`<style>` raw text), keeps the subset of the "in body"
//! tree-construction rules that well-nested markup reaches (implied `</p>`,
//! `</li>`, heading and list closing, stray end tags ignored), and writes
//! what ammonia's serialiser would write for the tree the parser would
//! build. Every construct whose tree it does not model exactly (tables,
//! forms, misnested formatting elements that the parser would reopen,
//! `<svg>`/`<math>`, RCDATA and RAWTEXT elements other than script and
//! style, doctypes, CDATA, bogus comments, NUL bytes, unusual numeric
//! references) makes [`clean`] give up and return `None`; the caller then
//! hands the fragment to ammonia. So the output is always what ammonia
//! would produce: balanced, escaped, allow-listed. The one exception is
//! HTML ammonia would take minutes over, tags with hundreds of thousands
//! of attributes: [`clean`] answers for them in linear time when it can,
//! and [`attributes_stay_few`] tells the caller not to hand the rest to
//! ammonia.
//!
//! Owns: the allow-list mirror of ammonia's defaults as `normalize`
//! configures them (tags, attributes, URL schemes, `rel`), and the
//! tokeniser and element stack. Hands on: the sanitised string.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use markup5ever::data::NAMED_ENTITIES;
use memchr::memchr;
use url::Url;

/// Which tags survive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Allow {
    /// Ammonia's default allow-list (feed and article HTML).
    Feed,
    /// No tags at all: only text is left (titles).
    Nothing,
}

/// The `rel` every kept link gets (`normalize` configures ammonia with it).
pub(crate) const LINK_REL: &str = "noopener noreferrer nofollow";

/// Why the fast path gave up; only ever turned into "use ammonia".
struct GiveUp;

type Step<T = ()> = Result<T, GiveUp>;

/// `html` sanitised against `base` (relative `href`/`src` made absolute),
/// or `None` when the fragment needs the full HTML parser.
pub(crate) fn clean(html: &str, base: Option<&Url>, allow: Allow) -> Option<String> {
    if memchr(0, html.as_bytes()).is_some() {
        return None;
    }
    // The tokeniser sees CR LF and CR as LF (input stream preprocessing).
    let normalised;
    let html = if memchr(b'\r', html.as_bytes()).is_some() {
        normalised = html.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        html
    };
    let mut b = Builder {
        out: String::with_capacity(html.len() + html.len() / 8),
        stack: Vec::new(),
        attrs: Vec::new(),
        allow,
        base,
        ignore_lf: false,
    };
    b.run(html).ok()?;
    Some(b.out)
}

/// How the tree builder treats a tag, for the tags the fast path handles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Special block elements whose start tag closes an open `<p>`.
    Block,
    Heading,
    /// `<pre>`: closes `<p>`, and a newline right after it is dropped.
    Pre,
    ListItem,
    /// `<dd>`, `<dt>`.
    DefItem,
    /// Formatting elements other than `<a>`.
    Formatting,
    Anchor,
    /// Void elements (never on the stack); `closes_p` for `<hr>`.
    Void {
        closes_p: bool,
    },
    /// Elements with no special rule (unknown ones included).
    Ordinary,
    /// Raw text dropped with its element.
    Script,
    Style,
    /// Anything else: give up.
    Other,
}

impl Kind {
    /// In html5ever's "special" category (matters when closing).
    fn special(self) -> bool {
        matches!(
            self,
            Kind::Block | Kind::Heading | Kind::Pre | Kind::ListItem | Kind::DefItem
        )
    }

    fn formatting(self) -> bool {
        matches!(self, Kind::Formatting | Kind::Anchor)
    }
}

/// The tree-construction class of a lowercased tag name.
fn kind(name: &str) -> Kind {
    match name {
        "address" | "article" | "aside" | "blockquote" | "center" | "details" | "dir" | "div"
        | "dl" | "fieldset" | "figcaption" | "figure" | "footer" | "header" | "hgroup" | "main"
        | "menu" | "nav" | "ol" | "p" | "section" | "summary" | "ul" => Kind::Block,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Kind::Heading,
        "pre" => Kind::Pre,
        "li" => Kind::ListItem,
        "dd" | "dt" => Kind::DefItem,
        "b" | "big" | "code" | "em" | "font" | "i" | "s" | "small" | "strike" | "strong" | "tt"
        | "u" => Kind::Formatting,
        "a" => Kind::Anchor,
        "area" | "br" | "embed" | "img" | "keygen" | "wbr" | "input" | "param" | "source"
        | "track" => Kind::Void { closes_p: false },
        "hr" => Kind::Void { closes_p: true },
        "script" => Kind::Script,
        "style" => Kind::Style,
        // Ordinary HTML elements, checked not to be SVG or MathML names
        // (ammonia drops those with their content when they appear
        // outside `<svg>`/`<math>`).
        "abbr" | "acronym" | "bdi" | "bdo" | "cite" | "data" | "del" | "dfn" | "ins" | "kbd"
        | "map" | "mark" | "q" | "ruby" | "samp" | "span" | "sub" | "sup" | "time" | "var"
        | "label" | "picture" | "video" | "audio" | "canvas" | "blink" | "output" | "meter"
        | "progress" | "slot" => Kind::Ordinary,
        // Office's `<o:p>` and other prefixed names are ordinary too (no
        // SVG or MathML name has a colon).
        _ if name.contains(':') => Kind::Ordinary,
        _ => Kind::Other,
    }
}

/// Ammonia's default tag allow-list (tables and ruby annotations are in it
/// but never reach here: the fast path gives up on them).
fn tag_allowed(name: &str) -> bool {
    matches!(
        name,
        "a" | "abbr"
            | "acronym"
            | "area"
            | "article"
            | "aside"
            | "b"
            | "bdi"
            | "bdo"
            | "blockquote"
            | "br"
            | "caption"
            | "center"
            | "cite"
            | "code"
            | "col"
            | "colgroup"
            | "data"
            | "dd"
            | "del"
            | "details"
            | "dfn"
            | "div"
            | "dl"
            | "dt"
            | "em"
            | "figcaption"
            | "figure"
            | "footer"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "i"
            | "img"
            | "ins"
            | "kbd"
            | "li"
            | "map"
            | "mark"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "q"
            | "rp"
            | "rt"
            | "rtc"
            | "ruby"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strike"
            | "strong"
            | "sub"
            | "summary"
            | "sup"
            | "table"
            | "tbody"
            | "td"
            | "th"
            | "thead"
            | "time"
            | "tr"
            | "tt"
            | "u"
            | "ul"
            | "var"
            | "wbr"
    )
}

/// Ammonia's default attribute allow-list: `lang` and `title` anywhere,
/// the rest per tag.
fn attr_allowed(tag: &str, attr: &str) -> bool {
    matches!(attr, "lang" | "title")
        || match tag {
            "a" => matches!(attr, "href" | "hreflang"),
            "bdo" => attr == "dir",
            "blockquote" | "q" => attr == "cite",
            "col" | "colgroup" => matches!(attr, "align" | "char" | "charoff" | "span"),
            "del" | "ins" => matches!(attr, "cite" | "datetime"),
            "hr" => matches!(attr, "align" | "size" | "width"),
            "img" => matches!(attr, "align" | "alt" | "height" | "src" | "width"),
            "ol" => attr == "start",
            "table" => matches!(attr, "align" | "char" | "charoff" | "summary"),
            "tbody" | "tfoot" | "thead" | "tr" => matches!(attr, "align" | "char" | "charoff"),
            "td" => matches!(
                attr,
                "align" | "char" | "charoff" | "colspan" | "headers" | "rowspan"
            ),
            "th" => matches!(
                attr,
                "align" | "char" | "charoff" | "colspan" | "headers" | "rowspan" | "scope"
            ),
            _ => false,
        }
}

/// Ammonia's default URL schemes.
fn scheme_allowed(scheme: &str) -> bool {
    matches!(
        scheme,
        "bitcoin"
            | "ftp"
            | "ftps"
            | "geo"
            | "http"
            | "https"
            | "im"
            | "irc"
            | "ircs"
            | "magnet"
            | "mailto"
            | "mms"
            | "mx"
            | "news"
            | "nntp"
            | "openpgp4fpr"
            | "sip"
            | "sms"
            | "smsto"
            | "ssh"
            | "tel"
            | "url"
            | "webcal"
            | "wtai"
            | "xmpp"
    )
}

/// Longest element name the fast path keeps on its stack (inline, so an
/// open element costs no allocation).
const NAME_MAX: usize = 24;

/// One open element.
struct Open {
    name: [u8; NAME_MAX],
    len: u8,
    kind: Kind,
    /// Written to the output (allowed), so its end tag is too.
    kept: bool,
}

impl Open {
    fn new(name: &str, kind: Kind, kept: bool) -> Step<Open> {
        if name.len() > NAME_MAX {
            return Err(GiveUp);
        }
        let mut buf = [0; NAME_MAX];
        buf[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Open {
            name: buf,
            len: name.len() as u8,
            kind,
            kept,
        })
    }

    fn name(&self) -> &str {
        std::str::from_utf8(&self.name[..usize::from(self.len)]).expect("copied from a str")
    }
}

struct Builder<'u> {
    out: String,
    stack: Vec<Open>,
    /// The current tag's attributes as written (raw name, raw value), reused.
    attrs: Vec<(usize, usize, usize, usize)>,
    allow: Allow,
    base: Option<&'u Url>,
    /// The token after `<pre>`: a leading newline is dropped.
    ignore_lf: bool,
}

fn is_space(c: u8) -> bool {
    matches!(c, b'\t' | b'\n' | b'\x0C' | b' ')
}

/// Attributes a tag may have before repeats are looked up in a set rather
/// than by a scan (which needs no allocation, and is faster for the few
/// attributes real tags have).
const LINEAR_ATTRS: usize = 16;

/// An attribute name as the tokeniser compares them: ASCII letters folded
/// to lowercase, nothing else.
#[derive(Clone, Copy)]
struct Caseless<'a>(&'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Caseless<'_> {}

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in self.0.bytes() {
            state.write_u8(c.to_ascii_lowercase());
        }
        state.write_u8(0xff);
    }
}

/// A tag as tokenised: its lowercased name, and where it ends.
struct Tag<'a> {
    name: Cow<'a, str>,
    end: usize,
}

impl Builder<'_> {
    fn run(&mut self, html: &str) -> Step {
        let b = html.as_bytes();
        let mut i = 0;
        // Start of the pending text run.
        let mut text = 0;
        while let Some(found) = memchr(b'<', &b[i..]) {
            let lt = i + found;
            let next = b.get(lt + 1).copied();
            match next {
                Some(c) if c.is_ascii_alphabetic() => {
                    self.text(&html[text..lt])?;
                    let tag = self.tag(html, lt + 1)?;
                    i = self.start_tag(html, tag)?;
                }
                Some(b'/') => {
                    self.text(&html[text..lt])?;
                    match b.get(lt + 2) {
                        Some(c) if c.is_ascii_alphabetic() => {
                            let tag = self.tag(html, lt + 2)?;
                            i = tag.end;
                            self.end_tag(&tag.name)?;
                        }
                        // `</>` (dropped with a parse error) and bogus
                        // comments: rare, left to the full parser.
                        _ => return Err(GiveUp),
                    }
                }
                Some(b'!') => {
                    self.text(&html[text..lt])?;
                    i = comment_end(html, lt)?;
                    self.ignore_lf = false;
                }
                Some(b'?') => return Err(GiveUp),
                // A `<` that starts nothing is text.
                _ => {
                    i = lt + 1;
                    continue;
                }
            }
            text = i;
        }
        self.text(&html[text..])?;
        while let Some(open) = self.stack.pop() {
            self.close(&open);
        }
        Ok(())
    }

    /// Tokenises the tag whose name starts at `at`: its name, and its
    /// attributes into `self.attrs` (first of each name only, as the
    /// tokeniser keeps). End of input inside a tag: give up.
    fn tag<'a>(&mut self, html: &'a str, at: usize) -> Step<Tag<'a>> {
        let b = html.as_bytes();
        let mut j = at;
        while j < b.len() && !is_space(b[j]) && b[j] != b'/' && b[j] != b'>' {
            j += 1;
        }
        let raw = &html[at..j];
        let name = if raw.bytes().any(|c| c.is_ascii_uppercase()) {
            Cow::Owned(raw.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw)
        };
        self.attrs.clear();
        // Past a few attributes the repeat check goes through a set: a
        // tag with 100,000 attributes would otherwise cost 10^10 compares.
        let mut seen: HashSet<Caseless<'a>> = HashSet::new();
        loop {
            while j < b.len() && is_space(b[j]) {
                j += 1;
            }
            match b.get(j) {
                None => return Err(GiveUp),
                Some(b'>') => return Ok(Tag { name, end: j + 1 }),
                Some(b'/') => {
                    // Self-closing flag: ignored on HTML elements, and
                    // void elements are void anyway.
                    j += 1;
                    continue;
                }
                Some(_) => {}
            }
            // Attribute name: a leading `=` belongs to it.
            let name_start = j;
            j += 1;
            while j < b.len() && !is_space(b[j]) && !matches!(b[j], b'/' | b'>' | b'=') {
                j += 1;
            }
            let name_end = j;
            while j < b.len() && is_space(b[j]) {
                j += 1;
            }
            let (value_start, value_end);
            if b.get(j) == Some(&b'=') {
                j += 1;
                while j < b.len() && is_space(b[j]) {
                    j += 1;
                }
                match b.get(j) {
                    None => return Err(GiveUp),
                    Some(&q @ (b'"' | b'\'')) => {
                        let close = memchr(q, &b[j + 1..]).ok_or(GiveUp)?;
                        value_start = j + 1;
                        value_end = j + 1 + close;
                        j = value_end + 1;
                    }
                    // `a=>`: an empty value, and the tag ends.
                    Some(b'>') => {
                        value_start = j;
                        value_end = j;
                    }
                    Some(_) => {
                        value_start = j;
                        while j < b.len() && !is_space(b[j]) && b[j] != b'>' {
                            j += 1;
                        }
                        value_end = j;
                    }
                }
            } else {
                value_start = j;
                value_end = j;
            }
            let new = &html[name_start..name_end];
            let first = if self.attrs.len() < LINEAR_ATTRS {
                !self
                    .attrs
                    .iter()
                    .any(|&(s, e, _, _)| html[s..e].eq_ignore_ascii_case(new))
            } else {
                if seen.is_empty() {
                    seen.extend(self.attrs.iter().map(|&(s, e, _, _)| Caseless(&html[s..e])));
                }
                seen.insert(Caseless(new))
            };
            if first {
                self.attrs
                    .push((name_start, name_end, value_start, value_end));
            }
        }
    }

    fn text(&mut self, raw: &str) -> Step {
        if raw.is_empty() {
            return Ok(());
        }
        let mut raw = raw;
        if std::mem::take(&mut self.ignore_lf) {
            if let Some(rest) = raw.strip_prefix('\n') {
                raw = rest;
            } else if raw.starts_with('&') {
                // A reference that decodes to a newline is dropped too, and
                // parse errors in between reset that: not worth modelling.
                return Err(GiveUp);
            }
        }
        push_text(&mut self.out, raw, false)
    }

    /// Handles a start tag; returns where tokenising resumes.
    fn start_tag(&mut self, html: &str, tag: Tag<'_>) -> Step<usize> {
        let k = kind(&tag.name);
        self.ignore_lf = false;
        match k {
            Kind::Other => return Err(GiveUp),
            Kind::Script | Kind::Style => {
                // The element goes with its content, end tag and all.
                return match raw_text_close(html, tag.end, &tag.name, k == Kind::Script)? {
                    Some(at) => Ok(self.tag(html, at + 2)?.end),
                    None => Ok(html.len()),
                };
            }
            Kind::Block => {
                self.close_p()?;
            }
            Kind::Heading => {
                self.close_p()?;
                if self.stack.last().is_some_and(|o| o.kind == Kind::Heading) {
                    let open = self.stack.pop().expect("checked");
                    self.close(&open);
                }
            }
            Kind::Pre => {
                self.close_p()?;
            }
            Kind::ListItem | Kind::DefItem => {
                // Close the nearest open item of the same family, unless a
                // special element other than address, div and p is nearer.
                let mut found = None;
                for (idx, open) in self.stack.iter().enumerate().rev() {
                    let same = match k {
                        Kind::ListItem => open.kind == Kind::ListItem,
                        _ => open.kind == Kind::DefItem,
                    };
                    if same {
                        found = Some(idx);
                        break;
                    }
                    if open.kind.special() && !matches!(open.name(), "address" | "div" | "p") {
                        break;
                    }
                }
                if let Some(idx) = found {
                    self.pop_to(idx)?;
                }
                self.close_p()?;
            }
            Kind::Anchor => {
                // A second `<a>` runs the adoption agency on the first.
                if self.stack.iter().any(|o| o.kind == Kind::Anchor) {
                    return Err(GiveUp);
                }
            }
            Kind::Void { closes_p } => {
                if closes_p {
                    self.close_p()?;
                }
                if self.keeps(&tag.name) {
                    self.write_start(html, &tag.name)?;
                }
                return Ok(tag.end);
            }
            Kind::Formatting | Kind::Ordinary => {}
        }
        let kept = self.keeps(&tag.name);
        let open = Open::new(&tag.name, k, kept)?;
        if kept {
            self.write_start(html, &tag.name)?;
        }
        self.stack.push(open);
        if k == Kind::Pre {
            self.ignore_lf = true;
        }
        Ok(tag.end)
    }

    fn keeps(&self, name: &str) -> bool {
        self.allow == Allow::Feed && tag_allowed(name)
    }

    fn end_tag(&mut self, name: &str) -> Step {
        self.ignore_lf = false;
        let k = kind(name);
        match k {
            Kind::Block | Kind::Pre | Kind::DefItem => {
                if name == "p" && !self.stack.iter().any(|o| o.name() == "p") {
                    // `</p>` with no `<p>` open makes an empty paragraph.
                    return Err(GiveUp);
                }
                if let Some(idx) = self.stack.iter().rposition(|o| o.name() == name) {
                    self.pop_to(idx)?;
                }
            }
            Kind::Heading => {
                if let Some(idx) = self.stack.iter().rposition(|o| o.kind == Kind::Heading) {
                    self.pop_to(idx)?;
                }
            }
            Kind::ListItem => {
                // In list-item scope: `<ol>` and `<ul>` bound the search.
                for idx in (0..self.stack.len()).rev() {
                    let open = &self.stack[idx];
                    if open.kind == Kind::ListItem {
                        self.pop_to(idx)?;
                        break;
                    }
                    if matches!(open.name(), "ol" | "ul") {
                        break;
                    }
                }
            }
            Kind::Formatting | Kind::Anchor => {
                let Some(idx) = self.stack.iter().rposition(|o| o.name() == name) else {
                    return Ok(());
                };
                // A special element inside it is a "furthest block" for
                // the adoption agency: restructuring, not modelled.
                if self.stack[idx + 1..].iter().any(|o| o.kind.special()) {
                    return Err(GiveUp);
                }
                self.pop_to(idx)?;
            }
            Kind::Void { .. } | Kind::Ordinary | Kind::Script | Kind::Style => {
                if name == "br" {
                    // `</br>` is a `<br>`.
                    return Err(GiveUp);
                }
                // "Any other end tag": the nearest open element of that
                // name, unless a special element comes first.
                for idx in (0..self.stack.len()).rev() {
                    let open = &self.stack[idx];
                    if open.name() == name {
                        self.pop_to(idx)?;
                        break;
                    }
                    if open.kind.special() {
                        break;
                    }
                }
            }
            Kind::Other => {
                // Unknown names with no rule of their own are never open
                // (their start tags give up), so they are ignored; names
                // the parser has rules for are left to it.
                if is_plain_unknown(name) {
                    return Ok(());
                }
                return Err(GiveUp);
            }
        }
        Ok(())
    }

    /// Pops and closes the stack down to and including `idx`. An element
    /// above it that is a formatting element stays in the parser's list of
    /// active formatting elements and would be reopened later: give up.
    fn pop_to(&mut self, idx: usize) -> Step {
        if self.stack[idx + 1..].iter().any(|o| o.kind.formatting()) {
            return Err(GiveUp);
        }
        while self.stack.len() > idx {
            let open = self.stack.pop().expect("len > idx");
            self.close(&open);
        }
        Ok(())
    }

    /// "Close a p element" when one is open (in button scope: the fast path
    /// never has a scope boundary open).
    fn close_p(&mut self) -> Step {
        if let Some(idx) = self.stack.iter().rposition(|o| o.name() == "p") {
            self.pop_to(idx)?;
        }
        Ok(())
    }

    fn close(&mut self, open: &Open) {
        if open.kept {
            self.out.push_str("</");
            self.out.push_str(open.name());
            self.out.push('>');
        }
    }

    /// Writes an allowed start tag with its allowed attributes, URLs
    /// checked and made absolute, and `rel` on links.
    fn write_start(&mut self, html: &str, name: &str) -> Step {
        self.out.push('<');
        self.out.push_str(name);
        for a in 0..self.attrs.len() {
            let (ns, ne, vs, ve) = self.attrs[a];
            let raw_name = &html[ns..ne];
            let attr: Cow<'_, str> = if raw_name.bytes().any(|c| c.is_ascii_uppercase()) {
                Cow::Owned(raw_name.to_ascii_lowercase())
            } else {
                Cow::Borrowed(raw_name)
            };
            if !attr_allowed(name, &attr) {
                continue;
            }
            let value = decode(&html[vs..ve], true)?;
            let value = if matches!(&*attr, "href" | "src") {
                match Url::parse(&value) {
                    Ok(url) if scheme_allowed(url.scheme()) => value,
                    Ok(_) => continue,
                    Err(url::ParseError::RelativeUrlWithoutBase) => {
                        // Ammonia drops the attribute when the base cannot
                        // take it, by a swap that reorders the rest.
                        let joined = self.base.ok_or(GiveUp)?.join(&value).map_err(|_| GiveUp)?;
                        Cow::Owned(String::from(joined))
                    }
                    Err(_) => continue,
                }
            } else {
                value
            };
            self.out.push(' ');
            self.out.push_str(&attr);
            self.out.push_str("=\"");
            escape(&mut self.out, &value, true);
            self.out.push('"');
        }
        if name == "a" {
            self.out.push_str(" rel=\"");
            self.out.push_str(LINK_REL);
            self.out.push('"');
        }
        self.out.push('>');
        Ok(())
    }
}

/// An unknown end tag's name that no tree-construction rule mentions.
fn is_plain_unknown(name: &str) -> bool {
    !matches!(
        name,
        "applet"
            | "body"
            | "br"
            | "button"
            | "caption"
            | "col"
            | "colgroup"
            | "dialog"
            | "form"
            | "frame"
            | "frameset"
            | "head"
            | "html"
            | "iframe"
            | "image"
            | "listing"
            | "marquee"
            | "math"
            | "nobr"
            | "noembed"
            | "noframes"
            | "noscript"
            | "object"
            | "optgroup"
            | "option"
            | "plaintext"
            | "rb"
            | "rp"
            | "rt"
            | "rtc"
            | "search"
            | "select"
            | "svg"
            | "table"
            | "tbody"
            | "td"
            | "template"
            | "textarea"
            | "tfoot"
            | "th"
            | "thead"
            | "title"
            | "tr"
            | "xmp"
    )
}

/// The most attributes a tag may have for ammonia to be handed the
/// fragment. html5ever checks each attribute against all the tag's earlier
/// ones, so a tag with `n` costs `n²/2` compares: seconds at 20,000,
/// minutes at 200,000. No real tag has more than a few dozen. At this cap
/// a 5 MB fragment of such tags takes ammonia less time than one of the
/// same size in plain `<p a=1>` tags.
pub(crate) const AMMONIA_MAX_ATTRS: usize = 256;

/// Whether ammonia parses `html` in time linear in its length, as far as
/// attributes go: no tag html5ever could tokenise in it has more than
/// [`AMMONIA_MAX_ATTRS`], and its `<html>` tags are few or bare. (Each
/// `<html>` start tag in a body adds its attributes to the one `html`
/// element, and ammonia's tree gathers that element's names into a set
/// for every such tag: 20,000 `<html a…>` tags, 300 kB, took it two
/// minutes. So the number of `<html>` tags times their attributes is
/// capped at the square of the cap.)
///
/// Which `<` starts a tag depends on the tokeniser's state (text, comment,
/// raw text, a quoted value), which only the full parser knows. So this
/// runs html5ever's attribute states from every `<` that could start a
/// tag, all at once: runs that reach the same state at the same byte go
/// the same way from there, so only the one with the most attributes is
/// kept, and the pass is linear. It counts repeated names too. The answer
/// errs only towards `false`, on text that looks like a huge tag.
pub(crate) fn attributes_stay_few(html: &str) -> bool {
    // States of the HTML tokeniser inside a tag, as far as attribute
    // counts go (the self-closing state behaves as `BEFORE_NAME`).
    const TAG_NAME: usize = 0;
    const BEFORE_NAME: usize = 1;
    const NAME: usize = 2;
    const AFTER_NAME: usize = 3;
    const BEFORE_VALUE: usize = 4;
    const DOUBLE: usize = 5;
    const SINGLE: usize = 6;
    const UNQUOTED: usize = 7;
    const AFTER_QUOTED: usize = 8;
    /// The next state for `c`, and whether `c` starts an attribute;
    /// `None` when the tag ends.
    fn step(state: usize, c: u8) -> Option<(usize, bool)> {
        // Input preprocessing turns CR into LF.
        let space = is_space(c) || c == b'\r';
        Some(match state {
            TAG_NAME if space || c == b'/' => (BEFORE_NAME, false),
            BEFORE_NAME | AFTER_NAME if space => (state, false),
            BEFORE_NAME | NAME | AFTER_NAME | AFTER_QUOTED if c == b'/' => (BEFORE_NAME, false),
            NAME if space => (AFTER_NAME, false),
            NAME | AFTER_NAME if c == b'=' => (BEFORE_VALUE, false),
            BEFORE_VALUE if space => (BEFORE_VALUE, false),
            BEFORE_VALUE if c == b'"' => (DOUBLE, false),
            BEFORE_VALUE if c == b'\'' => (SINGLE, false),
            DOUBLE if c == b'"' => (AFTER_QUOTED, false),
            SINGLE if c == b'\'' => (AFTER_QUOTED, false),
            DOUBLE | SINGLE => (state, false),
            UNQUOTED | AFTER_QUOTED if space => (BEFORE_NAME, false),
            _ if c == b'>' => return None,
            TAG_NAME | NAME | UNQUOTED => (state, false),
            BEFORE_VALUE => (UNQUOTED, false),
            // `BEFORE_NAME`, `AFTER_NAME`, `AFTER_QUOTED`: a new name.
            _ => (NAME, true),
        })
    }
    let b = html.as_bytes();
    // Each attribute but the last takes two bytes at least.
    if b.len() <= 2 * AMMONIA_MAX_ATTRS {
        return true;
    }
    // The most attributes any run in each state has seen so far, for runs
    // in other tags and in `<html>` start tags.
    let mut runs: [[Option<usize>; 9]; 2] = [[None; 9]; 2];
    let (mut html_tags, mut html_attrs) = (0usize, 0usize);
    for (i, &c) in b.iter().enumerate() {
        let start_tag = i >= 1 && b[i - 1] == b'<';
        if c.is_ascii_alphabetic() && (start_tag || i >= 2 && b[i - 1] == b'/' && b[i - 2] == b'<')
        {
            let is_html = start_tag
                && b[i..]
                    .get(..4)
                    .is_some_and(|n| n.eq_ignore_ascii_case(b"html"))
                && b.get(i + 4)
                    .is_none_or(|&c| is_space(c) || matches!(c, b'\r' | b'/' | b'>'));
            html_tags += usize::from(is_html);
            let run = &mut runs[usize::from(is_html)][TAG_NAME];
            *run = (*run).max(Some(0));
        }
        let mut next = [[None; 9]; 2];
        for (html_run, states) in runs.iter().enumerate() {
            for (state, count) in states.iter().enumerate() {
                let Some(count) = *count else { continue };
                let Some((to, starts)) = step(state, c) else {
                    continue;
                };
                let count = count + usize::from(starts);
                if count > AMMONIA_MAX_ATTRS {
                    return false;
                }
                html_attrs += usize::from(starts && html_run == 1);
                let slot = &mut next[html_run][to];
                *slot = (*slot).max(Some(count));
            }
        }
        if html_tags.saturating_mul(html_attrs) > AMMONIA_MAX_ATTRS * AMMONIA_MAX_ATTRS {
            return false;
        }
        runs = next;
    }
    true
}

/// Where a comment starting at `lt` (`<!`) ends. Only plain `<!--…-->`
/// comments are handled; doctypes, CDATA sections, bogus comments and the
/// odd comment forms (`<!-->`, `--!>`, nested `<!--`) give up.
fn comment_end(html: &str, lt: usize) -> Step<usize> {
    let rest = &html[lt..];
    if !rest.starts_with("<!--") {
        return Err(GiveUp);
    }
    let body = &rest[4..];
    if body.starts_with('>') || body.starts_with("->") {
        return Err(GiveUp);
    }
    let close = memchr::memmem::find(body.as_bytes(), b"-->").ok_or(GiveUp)?;
    let inner = &body[..close];
    if inner.contains("--!") || inner.contains("<!-") {
        return Err(GiveUp);
    }
    Ok(lt + 4 + close + 3)
}

/// Where the end tag (`</`) of the `<script>` or `<style>` whose raw text
/// starts at `from` is; `None`: it runs to the end of the input. Script
/// text with `<!--` in it has escape states the fast path does not model.
fn raw_text_close(html: &str, from: usize, name: &str, script: bool) -> Step<Option<usize>> {
    let b = html.as_bytes();
    let mut i = from;
    let close = loop {
        let Some(found) = memchr::memmem::find(&b[i..], b"</") else {
            break None;
        };
        let at = i + found;
        let name_end = at + 2 + name.len();
        if name_end <= b.len()
            && b[at + 2..name_end].eq_ignore_ascii_case(name.as_bytes())
            && b.get(name_end)
                .is_some_and(|&c| is_space(c) || c == b'/' || c == b'>')
        {
            break Some(at);
        }
        i = at + 2;
    };
    let text = &b[from..close.unwrap_or(b.len())];
    if script && memchr::memmem::find(text, b"<!--").is_some() {
        return Err(GiveUp);
    }
    Ok(close)
}

/// `text` with its character references decoded once, as in an
/// attribute value, where a legacy name without its `;` (`&not`) is text
/// when a letter follows (`Bread&nothing`); `None` for a reference the
/// tokeniser would replace (`&#0;`, a surrogate).
pub(crate) fn decode_references(text: &str) -> Option<Cow<'_, str>> {
    decode(text, true).ok()
}

/// Appends `raw` text with its character references decoded and the
/// result escaped as html5ever's serialiser escapes it.
fn push_text(out: &mut String, raw: &str, in_attr: bool) -> Step {
    let value = decode(raw, in_attr)?;
    escape(out, &value, in_attr);
    Ok(())
}

/// `raw` with its character references decoded as the HTML tokeniser
/// decodes them (in an attribute value when `in_attr`).
fn decode(raw: &str, in_attr: bool) -> Step<Cow<'_, str>> {
    let b = raw.as_bytes();
    let Some(first) = memchr(b'&', b) else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut i = first;
    while i < b.len() {
        // At a `&`.
        let (decoded, end) = reference(raw, i, in_attr)?;
        match decoded {
            Some((c1, c2)) => {
                out.push(c1);
                if let Some(c2) = c2 {
                    out.push(c2);
                }
            }
            None => out.push('&'),
        }
        let next = memchr(b'&', &b[end..]).map_or(b.len(), |p| end + p);
        out.push_str(&raw[end..next]);
        i = next;
    }
    Ok(Cow::Owned(out))
}

/// What a reference decodes to: one character or two.
type Decoded = (char, Option<char>);

/// The reference at `raw[at]` (a `&`): what it decodes to (`None`: a
/// literal `&`) and where the text after it starts.
fn reference(raw: &str, at: usize, in_attr: bool) -> Step<(Option<Decoded>, usize)> {
    let b = raw.as_bytes();
    let rest = &b[at + 1..];
    // The references feeds use most, decoded without the table.
    for (name, c) in [
        (&b"amp;"[..], '&'),
        (b"lt;", '<'),
        (b"gt;", '>'),
        (b"quot;", '"'),
        (b"nbsp;", '\u{a0}'),
        (b"#39;", '\''),
    ] {
        if rest.starts_with(name) {
            return Ok((Some((c, None)), at + 1 + name.len()));
        }
    }
    match rest.first() {
        Some(b'#') => {
            let (hex, digits_at) = match rest.get(1) {
                Some(b'x' | b'X') => (true, 2),
                _ => (false, 1),
            };
            let digits = rest[digits_at..]
                .iter()
                .take_while(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            if digits == 0 {
                // `&#` or `&#x` without digits: literal text.
                return Ok((None, at + 1));
            }
            if digits > 7 {
                return Err(GiveUp);
            }
            let s = &raw[at + 1 + digits_at..at + 1 + digits_at + digits];
            let n = u32::from_str_radix(s, if hex { 16 } else { 10 }).map_err(|_| GiveUp)?;
            let mut end = at + 1 + digits_at + digits;
            if b.get(end) == Some(&b';') {
                end += 1;
            }
            // Zero, surrogates, out of range, C1 (remapped to
            // windows-1252) and control characters: the tokeniser's
            // replacements are left to it.
            let plain = match n {
                0x09 | 0x0A | 0x0C | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFDCF => true,
                0xFDF0..=0x10FFFF => n & 0xFFFE != 0xFFFE,
                _ => false,
            };
            if !plain {
                return Err(GiveUp);
            }
            let c = char::from_u32(n).ok_or(GiveUp)?;
            Ok((Some((c, None)), end))
        }
        Some(c) if c.is_ascii_alphanumeric() => {
            // The longest name in html5ever's table (which also holds every
            // prefix of a name, mapped to (0, 0)).
            let mut best = None;
            let mut j = at + 1;
            while j < b.len() && b[j].is_ascii() {
                match NAMED_ENTITIES.get(&raw[at + 1..=j]) {
                    Some(&(c1, c2)) => {
                        if c1 != 0 {
                            best = Some((c1, c2, j + 1));
                        }
                        j += 1;
                    }
                    None => break,
                }
            }
            let Some((c1, c2, end)) = best else {
                return Ok((None, at + 1));
            };
            if b[end - 1] != b';'
                && in_attr
                && b.get(end)
                    .is_some_and(|&c| c == b'=' || c.is_ascii_alphanumeric())
            {
                return Ok((None, at + 1));
            }
            let c1 = char::from_u32(c1).ok_or(GiveUp)?;
            let c2 = if c2 == 0 {
                None
            } else {
                Some(char::from_u32(c2).ok_or(GiveUp)?)
            };
            Ok((Some((c1, c2)), end))
        }
        _ => Ok((None, at + 1)),
    }
}

/// Escapes as html5ever's serialiser does: `&`, no-break space, `<`, `>`,
/// and in attribute values `"`.
fn escape(out: &mut String, s: &str, in_attr: bool) {
    let b = s.as_bytes();
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        let rep = match c {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if in_attr => "&quot;",
            0xC2 if b.get(i + 1) == Some(&0xA0) => "&nbsp;",
            0xA0 if i > 0 && b[i - 1] == 0xC2 => {
                // The second byte of a no-break space, written already.
                from = i + 1;
                continue;
            }
            _ => continue,
        };
        out.push_str(&s[from..i]);
        out.push_str(rep);
        from = i + 1;
    }
    out.push_str(&s[from..]);
}

#[cfg(test)]
mod tests;
