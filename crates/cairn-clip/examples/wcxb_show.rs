// Temporary dev tool (not committed): show extraction vs ground truth for page ids.
#[path = "../tests/wcxb_common.rs"]
mod wcxb;
use cairn_clip::{article, ClipOptions};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(&args[0]);
    let full = std::env::var("FULL").is_ok();
    let pages = wcxb::load(&dir);
    for id in &args[1..] {
        let page = pages.iter().find(|p| &p.id == id).expect("id");
        let r = article(&page.html, &page.url, &ClipOptions::default());
        let text = match &r {
            Ok(a) => a.text.clone(),
            Err(e) => format!("ERROR {e}"),
        };
        let (p, rc, f) = wcxb::bag_prf(&text, &page.main_content);
        println!(
            "==== {} {} {} P{p:.3} R{rc:.3} F{f:.3} rule={:?} len={} gtlen={}",
            page.id,
            page.page_type,
            page.url,
            r.as_ref().ok().and_then(|a| a.site_rule.clone()),
            text.len(),
            page.main_content.len()
        );
        let n = if full { 100000 } else { 600 };
        println!("--- got:\n{}", text.chars().take(n).collect::<String>());
        println!("--- want:\n{}", page.main_content.chars().take(n).collect::<String>());
    }
}
