//! A typed walk over the spanned TOML tree that reports every problem instead of stopping.
//!
//! serde stops at the first error, so the loader reads `toml::de::DeTable` (every key and value
//! keeps its byte span) through [`Tab`]: each getter checks the type and range, records an error
//! with the key path and position when they are wrong, and returns `None` so the caller applies
//! the default and carries on. Every key a caller asks for is remembered; [`Tab::finish`] reports
//! all the others as unknown keys (the hand-written equivalent of `#[serde(deny_unknown_fields)]`,
//! but collecting every unknown key in the file rather than the first).

use core::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Sink;

/// A spanned TOML value from the parsed document.
pub(crate) type Val<'i> = Spanned<DeValue<'i>>;

/// A value with the byte span it came from.
#[derive(Clone, Debug)]
pub(crate) struct At<T> {
    pub(crate) v: T,
    pub(crate) span: Range<usize>,
}

/// Return the article-and-name of a TOML value's type, for messages.
pub(crate) fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Record "expected X, found Y" for `val`.
pub(crate) fn wrong_type(sink: &mut Sink<'_>, val: &Val<'_>, path: &str, expected: &str) {
    sink.error(
        &val.span(),
        path,
        format!("expected {expected}, found {}", type_name(val.get_ref())),
    );
}

/// Read a string value.
pub(crate) fn as_str<'t>(sink: &mut Sink<'_>, val: &'t Val<'_>, path: &str) -> Option<&'t str> {
    match val.get_ref() {
        DeValue::String(s) => Some(s.as_ref()),
        _ => {
            wrong_type(sink, val, path, "a string");
            None
        }
    }
}

/// Read an integer value within `lo..=hi`.
pub(crate) fn as_int(
    sink: &mut Sink<'_>,
    val: &Val<'_>,
    path: &str,
    lo: i64,
    hi: i64,
) -> Option<i64> {
    let DeValue::Integer(i) = val.get_ref() else {
        wrong_type(sink, val, path, "an integer");
        return None;
    };
    let n = i128::from_str_radix(i.as_str(), i.radix()).ok();
    match n {
        Some(n) if (i128::from(lo)..=i128::from(hi)).contains(&n) => i64::try_from(n).ok(),
        Some(n) => {
            sink.error(
                &val.span(),
                path,
                format!("{n} is out of range {lo}..={hi}"),
            );
            None
        }
        None => {
            sink.error(
                &val.span(),
                path,
                format!("{} is not a valid integer", i.as_str()),
            );
            None
        }
    }
}

/// One TOML table being read, with its key path and the keys asked for so far.
#[derive(Debug)]
pub(crate) struct Tab<'t, 'i> {
    table: &'t DeTable<'i>,
    span: Range<usize>,
    path: String,
    known: Vec<&'static str>,
}

impl<'t, 'i> Tab<'t, 'i> {
    /// Start reading `table`, found at `span` under key path `path` ("" for the root).
    pub(crate) fn new(table: &'t DeTable<'i>, span: Range<usize>, path: String) -> Self {
        Self {
            table,
            span,
            path,
            known: Vec::new(),
        }
    }

    /// Return this table's key path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Return the span of the table (its header, or its inline braces).
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// Return the key path of `key` in this table.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Return the raw value of `key`, marking the key as known.
    pub(crate) fn raw(&mut self, key: &'static str) -> Option<&'t Val<'i>> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.table.get(key)
    }

    /// Return true when `key` is present (without marking it known).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// Return the span of `key`'s value (the table's span when absent).
    pub(crate) fn raw_span(&self, key: &str) -> Range<usize> {
        self.table
            .get(key)
            .map_or_else(|| self.span.clone(), |v| v.span())
    }

    /// Record that the required `key` is missing.
    pub(crate) fn missing(&self, sink: &mut Sink<'_>, key: &str) {
        sink.error(&self.span, &self.key_path(key), "missing required key");
    }

    /// Read a string.
    pub(crate) fn str(&mut self, sink: &mut Sink<'_>, key: &'static str) -> Option<At<&'t str>> {
        let val = self.raw(key)?;
        as_str(sink, val, &self.key_path(key)).map(|v| At {
            v,
            span: val.span(),
        })
    }

    /// Read a required string.
    pub(crate) fn req_str(
        &mut self,
        sink: &mut Sink<'_>,
        key: &'static str,
    ) -> Option<At<&'t str>> {
        if !self.has(key) {
            self.raw(key);
            self.missing(sink, key);
            return None;
        }
        self.str(sink, key)
    }

    /// Read a boolean.
    pub(crate) fn bool(&mut self, sink: &mut Sink<'_>, key: &'static str) -> Option<At<bool>> {
        let val = self.raw(key)?;
        match val.get_ref() {
            DeValue::Boolean(b) => Some(At {
                v: *b,
                span: val.span(),
            }),
            _ => {
                wrong_type(sink, val, &self.key_path(key), "a boolean");
                None
            }
        }
    }

    /// Read an integer in `lo..=hi`.
    pub(crate) fn int(
        &mut self,
        sink: &mut Sink<'_>,
        key: &'static str,
        lo: i64,
        hi: i64,
    ) -> Option<At<i64>> {
        let val = self.raw(key)?;
        as_int(sink, val, &self.key_path(key), lo, hi).map(|v| At {
            v,
            span: val.span(),
        })
    }

    /// Read an integer in `lo..=hi` as `u32` (the range must fit).
    pub(crate) fn u32(
        &mut self,
        sink: &mut Sink<'_>,
        key: &'static str,
        lo: u32,
        hi: u32,
    ) -> Option<At<u32>> {
        let a = self.int(sink, key, i64::from(lo), i64::from(hi))?;
        u32::try_from(a.v).ok().map(|v| At { v, span: a.span })
    }

    /// Read an array; the items are returned raw with their spans.
    pub(crate) fn array(
        &mut self,
        sink: &mut Sink<'_>,
        key: &'static str,
    ) -> Option<At<&'t [Val<'i>]>> {
        let val = self.raw(key)?;
        match val.get_ref() {
            DeValue::Array(a) => Some(At {
                v: a,
                span: val.span(),
            }),
            _ => {
                wrong_type(sink, val, &self.key_path(key), "an array");
                None
            }
        }
    }

    /// Read an array of strings; bad items are reported and skipped.
    pub(crate) fn strings(
        &mut self,
        sink: &mut Sink<'_>,
        key: &'static str,
    ) -> Option<Vec<At<&'t str>>> {
        let arr = self.array(sink, key)?;
        let mut out = Vec::with_capacity(arr.v.len());
        for (i, item) in arr.v.iter().enumerate() {
            let path = format!("{}[{i}]", self.key_path(key));
            if let Some(s) = as_str(sink, item, &path) {
                out.push(At {
                    v: s,
                    span: item.span(),
                });
            }
        }
        Some(out)
    }

    /// Read a sub-table (standard `[a.b]` or inline `{ ... }`).
    pub(crate) fn table(&mut self, sink: &mut Sink<'_>, key: &'static str) -> Option<Tab<'t, 'i>> {
        let val = self.raw(key)?;
        let path = self.key_path(key);
        Self::value_as_table(sink, val, path)
    }

    /// Read `val` as a table at `path`.
    pub(crate) fn value_as_table(
        sink: &mut Sink<'_>,
        val: &'t Val<'i>,
        path: String,
    ) -> Option<Tab<'t, 'i>> {
        match val.get_ref() {
            DeValue::Table(t) => Some(Tab::new(t, val.span(), path)),
            _ => {
                wrong_type(sink, val, &path, "a table");
                None
            }
        }
    }

    /// Read an array of tables (`[[key]]`); each element gets the path `key[i]`.
    pub(crate) fn tables(&mut self, sink: &mut Sink<'_>, key: &'static str) -> Vec<Tab<'t, 'i>> {
        let base = self.key_path(key);
        let Some(val) = self.raw(key) else {
            return Vec::new();
        };
        let DeValue::Array(arr) = val.get_ref() else {
            wrong_type(
                sink,
                val,
                &base,
                &format!("an array of tables ([[{base}]])"),
            );
            return Vec::new();
        };
        arr.iter()
            .enumerate()
            .filter_map(|(i, item)| Self::value_as_table(sink, item, format!("{base}[{i}]")))
            .collect()
    }

    /// Report every key that was never asked for as unknown.
    pub(crate) fn finish(self, sink: &mut Sink<'_>) {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref();
            if !self.known.contains(&name) {
                sink.error(
                    &k.span(),
                    &self.key_path(name),
                    format!("unknown key; expected one of: {}", self.known.join(", ")),
                );
            }
        }
    }
}
