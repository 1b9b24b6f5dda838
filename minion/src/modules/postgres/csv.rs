//! Python's `csv.reader` with its default (`excel`) dialect, as Salt's
//! `postgres.psql_query` reads psql's `COPY ... TO STDOUT WITH CSV HEADER`
//! output: `,` between fields, `"` quotes with `""` for a quote inside,
//! line breaks inside quotes kept, a blank line an empty record.

/// Where the reader is inside the current field.
#[derive(Clone, Copy, PartialEq)]
enum At {
    /// Nothing of the field read yet.
    Start,
    /// In an unquoted field.
    Plain,
    /// Inside quotes.
    Quoted,
    /// Just after a quote inside quotes: a closing quote, or the first of `""`.
    QuoteInQuoted,
}

/// The records of `text`.
pub fn records(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut at = At::Start;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (at, ch) {
            (At::Quoted, '"') => at = At::QuoteInQuoted,
            (At::Quoted, c) => field.push(c),
            (At::QuoteInQuoted, '"') => {
                field.push('"');
                at = At::Quoted;
            }
            (At::Start, '"') => at = At::Quoted,
            (_, ',') => {
                record.push(std::mem::take(&mut field));
                at = At::Start;
            }
            (_, '\r' | '\n') => {
                if ch == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                // A line with nothing on it is an empty record (`[]`).
                if !(at == At::Start && record.is_empty() && field.is_empty()) {
                    record.push(std::mem::take(&mut field));
                }
                out.push(std::mem::take(&mut record));
                at = At::Start;
            }
            // After a closing quote, text up to the delimiter is kept
            // (Python's non-strict reading of `"a"b`).
            (_, c) => {
                field.push(c);
                at = At::Plain;
            }
        }
    }
    if at != At::Start || !record.is_empty() || !field.is_empty() {
        record.push(field);
        out.push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_psql_copy_output() {
        // psql -c "COPY (SELECT datname as \"Name\", ...) TO STDOUT WITH CSV HEADER"
        let text = "Name,Owner,Encoding,Collate,Ctype,Access privileges,Tablespace\n\
                    postgres,postgres,UTF8,C.UTF-8,C.UTF-8,,pg_default\n\
                    template1,postgres,UTF8,C.UTF-8,C.UTF-8,\"{=c/postgres,postgres=CTc/postgres}\",pg_default";
        let rows = records(text);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][5], "");
        assert_eq!(rows[2][5], "{=c/postgres,postgres=CTc/postgres}");
        assert_eq!(rows[2][6], "pg_default");
    }

    #[test]
    fn quotes_line_breaks_and_blank_lines() {
        assert_eq!(records("\"a \"\"b\"\"\",c"), vec![rec(&["a \"b\"", "c"])]);
        assert_eq!(records("\"x\ny\",z\r\n"), vec![rec(&["x\ny", "z"])]);
        assert_eq!(records("a\n\nb"), vec![rec(&["a"]), vec![], rec(&["b"])]);
        assert_eq!(records(""), Vec::<Vec<String>>::new());
        assert_eq!(records("a,"), vec![rec(&["a", ""])]);
        assert_eq!(records("\"\""), vec![rec(&[""])]);
        assert_eq!(records("\"a\"b,c"), vec![rec(&["ab", "c"])]);
    }
}
