//! The CLI's coloured text as HTML: the same outputters (`nested`,
//! `highstate`) the terminal gets, with their SGR colour codes turned into
//! `<span class="fg-...">` and every other character escaped.

/// `text` with ANSI SGR sequences (`ESC [ ... m`) as spans; other escape
/// sequences are dropped.
pub fn to_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + text.len() / 4);
    let mut open = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            escape_into(&mut html, c);
            continue;
        }
        if chars.peek() != Some(&'[') {
            continue;
        }
        chars.next();
        let mut params = String::new();
        let mut end = None;
        for p in chars.by_ref() {
            if p.is_ascii_digit() || p == ';' {
                params.push(p);
            } else {
                end = Some(p);
                break;
            }
        }
        if end != Some('m') {
            continue;
        }
        if open {
            html.push_str("</span>");
            open = false;
        }
        let classes = classes(&params);
        if !classes.is_empty() {
            html.push_str(&format!("<span class=\"{}\">", classes.join(" ")));
            open = true;
        }
    }
    if open {
        html.push_str("</span>");
    }
    html
}

/// The classes one SGR sequence leaves in force (each starts from reset,
/// as the outputters' `0;...` codes do).
fn classes(params: &str) -> Vec<&'static str> {
    let mut bold = false;
    let mut colour = None;
    for code in params.split(';') {
        match code {
            "" | "0" => {
                bold = false;
                colour = None;
            }
            "1" => bold = true,
            "30" | "90" => colour = Some("fg-black"),
            "31" | "91" => colour = Some("fg-red"),
            "32" | "92" => colour = Some("fg-green"),
            "33" | "93" => colour = Some("fg-yellow"),
            "34" | "94" => colour = Some("fg-blue"),
            "35" | "95" => colour = Some("fg-magenta"),
            "36" | "96" => colour = Some("fg-cyan"),
            "37" | "97" => colour = Some("fg-white"),
            _ => {}
        }
    }
    let mut classes: Vec<&'static str> = colour.into_iter().collect();
    if bold {
        classes.push("bold");
    }
    classes
}

fn escape_into(html: &mut String, c: char) {
    match c {
        '&' => html.push_str("&amp;"),
        '<' => html.push_str("&lt;"),
        '>' => html.push_str("&gt;"),
        '"' => html.push_str("&quot;"),
        '\'' => html.push_str("&#39;"),
        other => html.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_spans_and_text_is_escaped() {
        let text = "\x1b[0;36mm1\x1b[0;0m:\n    \x1b[0;1;33m<b>&\x1b[0;0m\x1b[2K";
        assert_eq!(
            to_html(text),
            "<span class=\"fg-cyan\">m1</span>:\n    <span class=\"fg-yellow bold\">&lt;b&gt;&amp;</span>"
        );
        assert_eq!(
            to_html("\x1b[31mopen"),
            "<span class=\"fg-red\">open</span>"
        );
    }
}
