//! keepalived.conf syntax: words, braces and comments, read into a tree of statements that
//! remember where they are in the source (line and byte span), so the LVS importer can report
//! lines and the VRRP writer can copy and edit the original text.

use std::ops::Range;

use super::Diagnostic;

/// One statement: its words and, if it opens one, its block.
#[derive(Clone, Debug)]
pub(crate) struct Stmt {
    /// 1-based line of the first word.
    pub line: usize,
    pub words: Vec<String>,
    pub block: Option<Vec<Stmt>>,
    /// Byte span in the source of each word (a quoted word with its quotes).
    pub word_spans: Vec<Range<usize>>,
    /// Byte span of the whole statement: from its first word to the end of its last word, or
    /// past the closing brace of its block (to the end of the text when the block is unclosed).
    pub span: Range<usize>,
    /// Byte offset of the closing brace of its block, when there is one.
    pub close: Option<usize>,
}

impl Stmt {
    pub fn key(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }

    /// The statements of its block (none without a block).
    pub fn children(&self) -> &[Stmt] {
        self.block.as_deref().unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Word(String),
    Open,
    Close,
    Eol,
}

/// A token with its 1-based line and byte span.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub line: usize,
    pub tok: Tok,
    pub span: Range<usize>,
}

/// Split the text into words, braces and ends of line. Comments start at `#` or `!` outside
/// double quotes; a quoted string is one word without its quotes; braces are tokens of their
/// own even when attached to a word (`80{`). `@id` conditional lines are skipped with a warning.
pub(crate) fn lex(text: &str, warn: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut out = Vec::new();
    let mut base = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        let line_start = base;
        base += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix('@') {
            let id = rest.split_whitespace().next().unwrap_or("");
            warn.push(Diagnostic {
                line: n,
                message: format!("conditional line (@{id}) skipped: no configuration id applies"),
            });
            continue;
        }
        let mut word = String::new();
        let mut word_start = 0;
        let mut quoted = false;
        let flush = |w: &mut String, start: usize, end: usize, out: &mut Vec<Token>| {
            if !w.is_empty() {
                out.push(Token {
                    line: n,
                    tok: Tok::Word(std::mem::take(w)),
                    span: line_start + start..line_start + end,
                });
            }
        };
        let mut end_of_line = line.len();
        for (at, c) in line.char_indices() {
            if quoted {
                if c == '"' {
                    quoted = false;
                    out.push(Token {
                        line: n,
                        tok: Tok::Word(std::mem::take(&mut word)),
                        span: line_start + word_start..line_start + at + 1,
                    });
                } else {
                    word.push(c);
                }
                continue;
            }
            match c {
                '"' => {
                    flush(&mut word, word_start, at, &mut out);
                    quoted = true;
                    word_start = at;
                }
                '#' | '!' => {
                    end_of_line = at;
                    break;
                }
                '{' | '}' => {
                    flush(&mut word, word_start, at, &mut out);
                    out.push(Token {
                        line: n,
                        tok: if c == '{' { Tok::Open } else { Tok::Close },
                        span: line_start + at..line_start + at + 1,
                    });
                }
                c if c.is_whitespace() => flush(&mut word, word_start, at, &mut out),
                c => {
                    if word.is_empty() {
                        word_start = at;
                    }
                    word.push(c);
                }
            }
        }
        flush(&mut word, word_start, end_of_line, &mut out);
        out.push(Token {
            line: n,
            tok: Tok::Eol,
            span: line_start + line.len()..line_start + line.len(),
        });
    }
    out
}

/// Read `text` into its top-level statements; warnings for unmatched braces.
pub(crate) fn parse(text: &str, warn: &mut Vec<Diagnostic>) -> Vec<Stmt> {
    let toks = lex(text, warn);
    let mut pos = 0;
    parse_block(&toks, &mut pos, 0, text.len(), warn)
}

/// Read the block starting at `toks[pos]` up to its `}`; the index of that `}` token is left
/// at `pos - 1` for the caller. A `{` on the line after a statement opens that statement's block.
fn parse_block(
    toks: &[Token],
    pos: &mut usize,
    depth: usize,
    text_len: usize,
    warn: &mut Vec<Diagnostic>,
) -> Vec<Stmt> {
    let mut out: Vec<Stmt> = Vec::new();
    while *pos < toks.len() {
        let t = &toks[*pos];
        match t.tok {
            Tok::Eol => *pos += 1,
            Tok::Close => {
                *pos += 1;
                if depth > 0 {
                    return out;
                }
                warn.push(Diagnostic {
                    line: t.line,
                    message: "unmatched '}' ignored".into(),
                });
            }
            Tok::Open => {
                *pos += 1;
                let block = parse_block(toks, pos, depth + 1, text_len, warn);
                let close = closed_at(toks, *pos);
                match out.last_mut() {
                    Some(prev) if prev.block.is_none() => {
                        prev.block = Some(block);
                        prev.close = close;
                        prev.span.end = close.map_or(text_len, |c| c + 1);
                    }
                    _ => warn.push(Diagnostic {
                        line: t.line,
                        message: "block without a keyword ignored".into(),
                    }),
                }
            }
            Tok::Word(_) => {
                let line = t.line;
                let start = t.span.start;
                let mut words = Vec::new();
                let mut word_spans = Vec::new();
                while let Some(Token {
                    tok: Tok::Word(w),
                    span,
                    ..
                }) = toks.get(*pos)
                {
                    words.push(w.clone());
                    word_spans.push(span.clone());
                    *pos += 1;
                }
                let mut end = word_spans.last().map_or(start, |s| s.end);
                let mut block = None;
                let mut close = None;
                if toks.get(*pos).map(|t| &t.tok) == Some(&Tok::Open) {
                    *pos += 1;
                    block = Some(parse_block(toks, pos, depth + 1, text_len, warn));
                    close = closed_at(toks, *pos);
                    end = close.map_or(text_len, |c| c + 1);
                }
                out.push(Stmt {
                    line,
                    words,
                    block,
                    word_spans,
                    span: start..end,
                    close,
                });
            }
        }
    }
    if depth > 0 {
        warn.push(Diagnostic {
            line: toks.last().map_or(0, |t| t.line),
            message: "unclosed '{' at the end of the file".into(),
        });
    }
    out
}

/// The offset of the `}` that ended a block, when `pos` is just past it.
fn closed_at(toks: &[Token], pos: usize) -> Option<usize> {
    match pos.checked_sub(1).and_then(|i| toks.get(i)) {
        Some(Token {
            tok: Tok::Close,
            span,
            ..
        }) => Some(span.start),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexing_splits_braces_and_drops_comments() {
        let mut w = Vec::new();
        let toks = lex(
            "real_server 10.0.0.2 80{ # c\n misc_path \"/bin/x a b\" ! c\n}",
            &mut w,
        );
        let words: Vec<&Tok> = toks.iter().map(|t| &t.tok).collect();
        assert_eq!(
            words,
            [
                &Tok::Word("real_server".into()),
                &Tok::Word("10.0.0.2".into()),
                &Tok::Word("80".into()),
                &Tok::Open,
                &Tok::Eol,
                &Tok::Word("misc_path".into()),
                &Tok::Word("/bin/x a b".into()),
                &Tok::Eol,
                &Tok::Close,
                &Tok::Eol,
            ]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn statements_know_their_source_spans() {
        let text = "a 1 {\n  b \"x y\"\n} tail\nc{\n}\n";
        let mut w = Vec::new();
        let tree = parse(text, &mut w);
        assert!(w.is_empty(), "{w:?}");
        let keys: Vec<&str> = tree.iter().map(Stmt::key).collect();
        assert_eq!(keys, ["a", "tail", "c"]);
        assert_eq!(&text[tree[0].span.clone()], "a 1 {\n  b \"x y\"\n}");
        assert_eq!(tree[0].close, Some(text.find('}').expect("brace")));
        let b = &tree[0].children()[0];
        assert_eq!((b.line, b.arg(1)), (2, Some("x y")));
        assert_eq!(&text[b.word_spans[1].clone()], "\"x y\"");
        assert_eq!(&text[tree[1].span.clone()], "tail");
        assert_eq!(&text[tree[2].span.clone()], "c{\n}");
        // An unclosed block runs to the end of the text.
        let text = "x {\n y\n";
        let tree = parse(text, &mut w);
        assert_eq!((tree[0].span.end, tree[0].close), (text.len(), None));
    }
}
