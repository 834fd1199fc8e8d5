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
