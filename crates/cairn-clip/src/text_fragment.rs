//! Links back to a passage with a URL text fragment (`#:~:text=`), which Chromium,
//! Safari and Firefox scroll to and highlight.

/// Quotes longer than this many words link by their first and last words
/// (`text=start,end`), as the spec recommends, so the URL stays short.
const EXACT_WORDS: usize = 10;
const EDGE_WORDS: usize = 4;

/// `page_url` with its fragment replaced by a text directive for `quote`.
///
/// Whitespace in the quote is normalized because the browser matches on rendered text,
/// where runs of whitespace are one space. An empty quote gives the plain URL.
pub fn text_fragment_url(page_url: &str, quote: &str) -> String {
    let base = page_url.split('#').next().unwrap_or(page_url);
    let words: Vec<&str> = quote.split_whitespace().collect();
    if words.is_empty() {
        return base.to_string();
    }
    let directive = if words.len() <= EXACT_WORDS {
        encode(&words.join(" "))
    } else {
        let start = words[..EDGE_WORDS].join(" ");
        let end = words[words.len() - EDGE_WORDS..].join(" ");
        format!("{},{}", encode(&start), encode(&end))
    };
    format!("{base}#:~:text={directive}")
}

/// Percent-encodes everything but unreserved characters; `-`, `,` and `&` must be encoded
/// because they are the directive's own syntax.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_quotes_are_exact_and_encoded() {
        assert_eq!(
            text_fragment_url("https://a.example/p?q=1#old", "Hello,  world - & more"),
            "https://a.example/p?q=1#:~:text=Hello%2C%20world%20%2D%20%26%20more"
        );
    }

    #[test]
    fn long_quotes_use_start_and_end() {
        let quote = "one two three four five six seven eight nine ten eleven twelve";
        assert_eq!(
            text_fragment_url("https://a.example/", quote),
            "https://a.example/#:~:text=one%20two%20three%20four,nine%20ten%20eleven%20twelve"
        );
    }

    #[test]
    fn empty_quote_links_to_the_page() {
        assert_eq!(text_fragment_url("https://a.example/x#y", "  "), "https://a.example/x");
    }
}
