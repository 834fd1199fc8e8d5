//! Located configuration errors: `FILE:LINE:COL: key.path: message`.
//!
//! Every error the loader finds carries the file name, a 1-based line and column (columns count
//! characters, not bytes, so editors agree), the dotted key path (`service[1].real_server[0].weight`)
//! and a message. [`Errors`] is the whole list for one file, sorted by position, one per line when
//! displayed. TOML syntax errors have no key path and print as `FILE:LINE:COL: message`; a file
//! that cannot be read prints as `FILE: message`.

use core::fmt;
use core::ops::Range;

/// One problem in a configuration file, with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given to [`crate::parse`] or [`crate::load`].
    pub file: String,
    /// 1-based line; 0 when the error is about the whole file (it could not be read).
    pub line: usize,
    /// 1-based column in characters; 0 with `line == 0`.
    pub col: usize,
    /// Dotted key path, e.g. `service[1].real_server[0].weight`; empty for TOML syntax errors.
    pub key_path: String,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file)?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.col)?;
        }
        if !self.key_path.is_empty() {
            write!(f, " {}:", self.key_path)?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every error found in one configuration file, sorted by position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    /// Return the number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Return true when there is no error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterate over the errors in file order.
    pub fn iter(&self) -> core::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a ConfigError;
    type IntoIter = core::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Collects errors for one file and turns byte offsets into line:col.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    file: &'a str,
    text: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    errors: Vec<(usize, ConfigError)>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file,
            text,
            line_starts,
            errors: Vec::new(),
        }
    }

    /// Return the 1-based (line, column) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, col)
    }

    /// Record an error at the start of `span`.
    pub(crate) fn error(
        &mut self,
        span: &Range<usize>,
        key_path: &str,
        message: impl Into<String>,
    ) {
        let (line, col) = self.line_col(span.start);
        self.errors.push((
            span.start,
            ConfigError {
                file: self.file.to_owned(),
                line,
                col,
                key_path: key_path.to_owned(),
                message: message.into(),
            },
        ));
    }

    /// Return true when at least one error was recorded.
    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Return the errors sorted by position (stable: same position keeps discovery order).
    pub(crate) fn finish(mut self) -> Errors {
        self.errors.sort_by_key(|(offset, _)| *offset);
        Errors(self.errors.into_iter().map(|(_, e)| e).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let s = Sink::new("f", "ab\néé = 1\n\nx");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(2), (1, 3), "the newline itself is on line 1");
        assert_eq!(s.line_col(3), (2, 1));
        assert_eq!(s.line_col(7), (2, 3), "two 2-byte characters before it");
        assert_eq!(s.line_col(12), (3, 1));
        assert_eq!(s.line_col(13), (4, 1));
        assert_eq!(s.line_col(999), (4, 2), "clamped to the end");
    }

    #[test]
    fn display_formats() {
        let mut e = ConfigError {
            file: "f.toml".into(),
            line: 3,
            col: 7,
            key_path: "a.b".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "f.toml:3:7: a.b: bad");
        e.key_path.clear();
        assert_eq!(e.to_string(), "f.toml:3:7: bad");
        e.line = 0;
        assert_eq!(e.to_string(), "f.toml: bad");
    }

    #[test]
    fn errors_sort_by_position_and_print_one_per_line() {
        let mut s = Sink::new("f", "aaaa\nbbbb\n");
        s.error(&(6..7), "b", "second");
        s.error(&(1..2), "a", "first");
        assert_eq!(s.finish().to_string(), "f:1:2: a: first\nf:2:2: b: second");
    }
}
