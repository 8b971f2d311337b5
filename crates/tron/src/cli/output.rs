//! How answers are printed: aligned tables for people, the API's objects
//! as JSON for scripts (`-o json`). The one touch of colour, a bold table
//! header, only when stdout is a terminal and `NO_COLOR` is unset or empty.
use std::io::{IsTerminal, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// Pretty JSON of `value` on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| super::error::CliError::failed("encode_error", e.to_string()))?;
    line(&text)
}

/// One line on stdout; a closed pipe (`tron … | head`) is not an error.
pub fn line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A table: a header and rows, columns padded to their widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(self.rows.iter()) {
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    text.push_str(cell);
                } else {
                    let pad = widths.get(i).copied().unwrap_or(0);
                    text.push_str(&format!("{cell:<pad$}  "));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) -> Result<()> {
        let text = self.render();
        let text = text.trim_end_matches('\n');
        if !colour() {
            return line(text);
        }
        match text.split_once('\n') {
            Some((header, rows)) => line(&format!("\x1b[1m{header}\x1b[0m\n{rows}")),
            None => line(&format!("\x1b[1m{text}\x1b[0m")),
        }
    }
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is not set.
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Key–value lines for one object (`show`, `create`, …).
pub fn fields(pairs: &[(&str, String)]) -> Result<()> {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let text: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{:<width$} {v}", format!("{k}:")))
        .collect();
    line(&text.join("\n"))
}

/// A time as people read it in a table: to the second, UTC.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn opt_time(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map(time).unwrap_or_else(|| "-".into())
}

pub fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

/// A snake_case enum's wire name (`service_account`).
pub fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// Prints one object as JSON or as its fields.
pub fn object<T: Serialize>(
    out: Output,
    value: &T,
    pairs: impl FnOnce(&T) -> Vec<(&'static str, String)>,
) -> Result<()> {
    match out {
        Output::Json => json(value),
        Output::Table => fields(&pairs(value)),
    }
}

/// Prints a list as a JSON array or as a table.
pub fn list<T: Serialize>(
    out: Output,
    items: &[T],
    header: &[&'static str],
    row: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    match out {
        Output::Json => json(items),
        Output::Table => {
            let mut t = Table::new(header);
            for item in items {
                t.row(row(item));
            }
            t.print()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned() {
        let mut t = Table::new(&["NAME", "ID"]);
        t.row(vec!["staging".into(), "1".into()]);
        t.row(vec!["p".into(), "22".into()]);
        assert_eq!(t.render(), "NAME     ID\nstaging  1\np        22\n");
    }
}
