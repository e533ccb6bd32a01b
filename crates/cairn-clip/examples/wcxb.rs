//! Scores [`cairn_clip::article`] on the WCXB development split and prints P, R and F1 per
//! page type beside the best published figures (`cargo xtask bench clip` runs it).
//!
//! `cargo run --release -p cairn-clip --example wcxb -- TESTDATA/wcxb-dev [--pages OUT.tsv]`
//! (`--pages` writes every page's scores, worst first, for finding what to fix).

#[path = "../tests/wcxb_common.rs"]
mod wcxb;

use std::path::PathBuf;

use cairn_clip::{article, ClipOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: wcxb TESTDATA/wcxb-dev [--pages OUT.tsv]");
        std::process::exit(2);
    };
    let pages_out = args.iter().position(|a| a == "--pages").and_then(|i| args.get(i + 1));
    let pages = wcxb::load(&dir);
    let started = std::time::Instant::now();
    let mut scores = Vec::new();
    for page in &pages {
        let text = article(&page.html, &page.url, &ClipOptions::default()).map(|a| a.text).unwrap_or_default();
        let (p, r, f1) = wcxb::bag_prf(&text, &page.main_content);
        scores.push(wcxb::Score { id: page.id.clone(), page_type: page.page_type.clone(), p, r, f1 });
    }
    let elapsed = started.elapsed();
    println!("WCXB-dev, {} pages, bag-of-words F1 of the article text (native, {:.1?}):", pages.len(), elapsed);
    print!("{}", wcxb::table(&scores));
    if let Some(out) = pages_out {
        scores.sort_by(|a, b| a.f1.total_cmp(&b.f1));
        let lines: Vec<String> =
            scores.iter().map(|s| format!("{}\t{}\t{:.3}\t{:.3}\t{:.3}", s.id, s.page_type, s.p, s.r, s.f1)).collect();
        std::fs::write(out, lines.join("\n") + "\n").expect("write --pages");
    }
}
