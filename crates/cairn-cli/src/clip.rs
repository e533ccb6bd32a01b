//! `cairn clip PAGE.html --url URL [--format md|json] [--clipped-at TIME] [--rules RULES.json]`
//!
//! Clips a saved page with exactly the core code the extension runs (`cairn_clip`), so a
//! bad clip can be reproduced and reported from the command line.
//!
//! * `md` (default): the clip as the extension saves it, YAML front matter and body.
//! * `json`: `title, byline, site_name, published, lang, excerpt, url, markdown, text`
//!   (plus `readerable` and `site_rule`), where `markdown` is the body without front
//!   matter and `text` the article's plain text.
//!
//! `--rules` takes a JSON array of site rules (`cairn_clip::rules::RuleData`), tried before
//! the built-in ones, so a rule for a company's own tool can be tried without a rebuild.

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_clip::{clip_article_with, ClipContext, ClipOptions};

const USAGE: &str = "usage: cairn clip PAGE.html --url URL [--format md|json] [--clipped-at TIME] [--rules RULES.json]";

#[derive(Debug, PartialEq)]
enum Format {
    Markdown,
    Json,
}

#[derive(Debug)]
struct Args {
    page: String,
    url: String,
    format: Format,
    clipped_at: Option<String>,
    rules: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut page = None;
    let mut url = None;
    let mut format = Format::Markdown;
    let mut clipped_at = None;
    let mut rules = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().cloned().ok_or_else(|| format!("{flag} needs a value; {USAGE}"));
        match arg.as_str() {
            "--url" => url = Some(value("--url")?),
            "--format" => {
                format = match value("--format")?.as_str() {
                    "md" | "markdown" => Format::Markdown,
                    "json" => Format::Json,
                    other => return Err(format!("unknown format {other:?}: use md or json")),
                }
            }
            "--clipped-at" => clipped_at = Some(value("--clipped-at")?),
            "--rules" => rules = Some(value("--rules")?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}; {USAGE}")),
            path if page.is_none() => page = Some(path.to_string()),
            extra => return Err(format!("unexpected argument {extra:?}; {USAGE}")),
        }
    }
    Ok(Args {
        page: page.ok_or_else(|| format!("no page given; {USAGE}"))?,
        url: url
            .ok_or_else(|| format!("--url is required (links and images are made absolute against it); {USAGE}"))?,
        format,
        clipped_at,
        rules,
    })
}

pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    let html = std::fs::read(&args.page).map_err(|e| format!("cannot read {}: {e}", args.page))?;
    // Saved pages are not always UTF-8; a lossy read clips what can be read.
    let html = String::from_utf8_lossy(&html);
    let context = ClipContext { clipped_at: args.clipped_at.unwrap_or_else(now_rfc3339), ..ClipContext::default() };
    let mut options = ClipOptions::default();
    if let Some(path) = &args.rules {
        let json = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        options.extra_rules =
            serde_json::from_str(&json).map_err(|e| format!("{path}: not a list of site rules: {e}"))?;
    }
    let clip = clip_article_with(&html, &args.url, &context, &options).map_err(|e| format!("{}: {e}", args.page))?;
    match args.format {
        Format::Markdown => print!("{}", clip.markdown),
        Format::Json => {
            let article = clip.article.ok_or("the clip has no article")?;
            let json = serde_json::to_string_pretty(&article).map_err(|e| e.to_string())?;
            println!("{json}");
        }
    }
    Ok(())
}

/// The current UTC time as RFC 3339; the core takes the clip time from its caller.
fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_page_url_and_format() {
        let a = parse_args(&strings(&["p.html", "--url", "https://x.example/", "--format", "json"])).unwrap();
        assert_eq!(a.page, "p.html");
        assert_eq!(a.url, "https://x.example/");
        assert_eq!(a.format, Format::Json);
    }

    #[test]
    fn url_is_required_and_formats_are_checked() {
        assert!(parse_args(&strings(&["p.html"])).unwrap_err().contains("--url is required"));
        assert!(parse_args(&strings(&["p.html", "--url", "u", "--format", "pdf"]))
            .unwrap_err()
            .contains("unknown format"));
        assert!(parse_args(&strings(&["--url"])).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn takes_a_rules_file() {
        let a = parse_args(&strings(&["p.html", "--url", "u", "--rules", "acme.json"])).unwrap();
        assert_eq!(a.rules.as_deref(), Some("acme.json"));
        assert!(parse_args(&strings(&["p.html", "--url", "u", "--rules"])).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
