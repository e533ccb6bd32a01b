use dom_query::Document;
fn main() {
    let html = std::fs::read_to_string("/tmp/p.html").unwrap();
    let doc = Document::from(html.as_str());
    let needle = std::env::args().nth(1).unwrap();
    for n in doc.select("p, div, span, td, li").nodes() {
        if n.immediate_text().contains(needle.as_str()) {
            for a in std::iter::once(*n).chain(n.ancestors_it(None)) {
                println!(
                    "{} {:?}",
                    a.node_name().unwrap_or_default(),
                    a.attrs()
                        .iter()
                        .map(|x| format!("{}={}", x.name.local, &x.value[..x.value.len().min(60)]))
                        .collect::<Vec<_>>()
                );
            }
            break;
        }
    }
}
