//! Writing XML documents: the element writer the Atom renderer uses.
//!
//! Owns layout (one element per line, two-space indent, text kept exactly
//! as given) and puts every text and attribute value through
//! `markup::push_xml_text` / `push_xml_attr`, so no caller escapes by hand
//! and characters XML 1.0 cannot carry never reach the output. Also home of
//! the Atom namespace URI, which the RSS document uses for its
//! `atom:link rel="self"`.

use crate::markup::{push_xml_attr, push_xml_text};

/// The Atom 1.0 namespace (RFC 4287).
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// A minimal XML writer: one element per line, two-space indent, text kept
/// exactly as given (no whitespace added inside text-only elements).
pub(super) struct XmlWriter {
    out: String,
    depth: usize,
}

impl XmlWriter {
    pub(super) fn new() -> Self {
        XmlWriter {
            out: String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#),
            depth: 0,
        }
    }

    /// `<name attrs>`; children follow until [`XmlWriter::close`].
    pub(super) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push('>');
        self.depth += 1;
    }

    pub(super) fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.new_line();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attrs>text</name>`.
    pub(super) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start_tag(name, attrs);
        self.out.push('>');
        push_xml_text(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attrs/>`.
    pub(super) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>");
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.new_line();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            push_xml_attr(&mut self.out, value);
            self.out.push('"');
        }
    }

    fn new_line(&mut self) {
        self.out.push('\n');
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.out.push('\n');
        self.out.into_bytes()
    }
}
