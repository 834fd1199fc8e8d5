//! The VRRP-only file's text: the source's blocks copied with the edits (renames, comments,
//! insertions) applied, and what keepalived would refuse commented out.

use std::fmt::Write as _;
use std::ops::Range;

use super::{Planner, KEPT, LVS_WORDS};
use crate::import::kconf::Stmt;

impl Planner<'_> {
    /// Insert `lines` before the closing brace at `close`, indented one level deeper than it.
    pub(super) fn insert_before(&mut self, close: usize, lines: &[String]) {
        let ls = line_start(self.text, close);
        let prefix = &self.text[ls..close];
        let (at, lead, indent) = if prefix.trim().is_empty() {
            (ls, String::new(), format!("{prefix}    "))
        } else {
            let ws: String = prefix.chars().take_while(|c| c.is_whitespace()).collect();
            (close, "\n".to_owned(), format!("{ws}    "))
        };
        let mut s = lead;
        for l in lines {
            let _ = writeln!(s, "{indent}{l}");
        }
        self.inserts.entry(at).or_default().push_str(&s);
    }

    /// Comment out, inside the kept block `st` (of top-level kind `kind`), what keepalived would
    /// refuse or ferrovs owns.
    pub(super) fn clean(&mut self, st: &Stmt, kind: &str, depth: usize) {
        for c in st.children() {
            let key = c.key();
            let why = if !key.is_ascii() {
                Some(format!("'{key}' is not a keepalived keyword (prose?)"))
            } else if depth == 0 && kind == "vrrp_instance" && LVS_WORDS.contains(&key) {
                Some(format!(
                    "{key} is not a vrrp_instance keyword and keepalived refuses it (a \
                     vrrp_instance's addresses go in virtual_ipaddress)"
                ))
            } else if depth == 0 && kind == "global_defs" && key.starts_with("lvs_") {
                Some(format!(
                    "global_defs {key}: ferrovs owns the virtual servers"
                ))
            } else if depth == 0
                && kind == "vrrp_instance"
                && matches!(key, "lvs_sync_daemon_interface" | "dpdk_interface")
            {
                Some(format!(
                    "{key}: ferrovs owns the ports and the virtual servers"
                ))
            } else {
                None
            };
            match why {
                Some(why) => {
                    self.edits.push((c.span.clone(), self.commented(&c.span)));
                    let msg = format!("{why}; commented out in the VRRP-only keepalived.conf");
                    if key.starts_with("lvs_") || key == "dpdk_interface" {
                        self.note(c.line, msg);
                    } else {
                        self.warning(c.line, msg);
                    }
                }
                None => self.clean(c, kind, depth + 1),
            }
        }
    }

    /// The source text of `span` as comment lines (a line break after it when code follows on
    /// its last line).
    fn commented(&self, span: &Range<usize>) -> String {
        let body = &self.text[span.clone()];
        let mut s = format!("# {}", body.replace('\n', "\n# "));
        let rest = rest_of_line(self.text, span.end).trim();
        if !rest.is_empty() && !rest.starts_with(['#', '!']) {
            s.push('\n');
        }
        s
    }

    pub(super) fn render(&mut self, file: &str, tree: &[Stmt], generated: &str) -> String {
        let mut edits = std::mem::take(&mut self.edits);
        edits.extend(self.inserts.iter().map(|(at, s)| (*at..*at, s.clone())));
        let mut out = format!(
            "! VRRP-only keepalived.conf for this ferrovs gateway, from {file}\n\
             ! (written by `ferrovs import keepalived --keepalived-out`).\n\
             ! Run it with `keepalived --vrrp -f THIS_FILE`: ferrovs owns the virtual servers and\n\
             ! follows the addresses keepalived puts on the ports' TAPs ([ha] in its configuration).\n"
        );
        let mut mapped: Vec<(&String, &(String, String))> = self.mapped.iter().collect();
        mapped.sort();
        for (iface, (port, tap)) in mapped {
            let _ = writeln!(out, "! interface {iface} -> ferrovs port {port}, TAP {tap}");
        }
        for (i, st) in tree.iter().enumerate() {
            if !kept(st) {
                continue;
            }
            out.push('\n');
            out.push_str(&comments_above(self.text, st.span.start));
            out.push_str(&apply_edits(self.text, &st.span, &edits));
            // Text after the block on its last line: up to the next kept statement there.
            let mut rest = rest_of_line(self.text, st.span.end);
            if let Some(next) = tree.get(i + 1).filter(|n| kept(n)) {
                let end = st.span.end + rest.len();
                if next.span.start < end {
                    rest = &self.text[st.span.end..next.span.start];
                }
            }
            let rest = rest.trim();
            if rest.starts_with(['#', '!']) {
                let _ = write!(out, " {rest}");
            } else if !rest.is_empty() {
                let _ = write!(out, " # {rest}");
            }
            out.push('\n');
        }
        out.push_str(generated);
        out
    }
}

/// Whether a top-level statement goes to the VRRP-only file (`$NAME=` definitions too, for the
/// blocks that use them).
fn kept(st: &Stmt) -> bool {
    KEPT.contains(&st.key()) || st.key().starts_with('$')
}

/// The source text of `span` with the edits inside it applied; an edit inside one already
/// applied (in a statement commented out) is skipped.
pub(super) fn apply_edits(
    text: &str,
    span: &Range<usize>,
    edits: &[(Range<usize>, String)],
) -> String {
    let mut inside: Vec<&(Range<usize>, String)> = edits
        .iter()
        .filter(|(r, _)| r.start >= span.start && r.end <= span.end)
        .collect();
    inside.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = String::new();
    let mut at = span.start;
    for (r, s) in inside {
        if r.start < at {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push_str(s);
        at = r.end;
    }
    out.push_str(&text[at..span.end]);
    out
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The text from `at` to the end of its line (without the line break).
fn rest_of_line(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let end = rest.find('\n').unwrap_or(rest.len());
    rest[..end].trim_end_matches('\r')
}

/// The comment lines right above the line of `at` (up to a blank or other line).
fn comments_above(text: &str, at: usize) -> String {
    let mut start = line_start(text, at);
    while start > 0 {
        let prev = line_start(text, start - 1);
        let t = text[prev..start].trim();
        if t.starts_with('#') || t.starts_with('!') {
            start = prev;
        } else {
            break;
        }
    }
    text[start..line_start(text, at)].to_owned()
}
