//! Every case of the shared anchoring corpora: approx-string-match's search cases,
//! Hypothesis's `matchQuote` cases, and Apache Annotator's selector cases.

mod common;

use cairn_anchor::approx::{self, Match};
use cairn_anchor::html::css_select;
use cairn_anchor::{describe_minimal, match_quote, occurrences, resolve, Method, MinimalOptions, TextIndex};
use cairn_model::Selector;
use common::json;
use dom_query::{Document, NodeId, NodeRef};
use serde_json::Value;

fn matches(v: &Value) -> Vec<Match> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| Match {
            start: m["start"].as_u64().unwrap() as usize,
            end: m["end"].as_u64().unwrap() as usize,
            errors: m["errors"].as_u64().unwrap() as usize,
        })
        .collect()
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

#[test]
fn approx_string_match_cases() {
    let cases = json("approx-string-match-cases/cases.json");
    let mut n = 0;
    for (group, list) in cases["fixtures"].as_object().unwrap() {
        for case in list.as_array().unwrap() {
            let (text, pattern) = (case[0].as_str().unwrap(), case[1].as_str().unwrap());
            let want = matches(&case[2]);
            // The npm package's offsets are UTF-16 units, so search UTF-16 units here.
            let got = approx::search(&utf16(text), &utf16(pattern), utf16(pattern).len());
            // The contract in SOURCE: a single min-error match may be any of those listed.
            let ok = if got.len() == 1 && want.len() > 1 { want.contains(&got[0]) } else { got == want };
            assert!(ok, "{group}: search({text:?}, {pattern:?}) = {got:?}, want {want:?}");
            n += 1;
        }
    }
    for case in cases["extra_cases"].as_array().unwrap() {
        let (text, pattern) = (case["text"].as_str().unwrap(), case["pattern"].as_str().unwrap());
        let k = case["maxErrors"].as_u64().unwrap() as usize;
        let got = approx::search(&utf16(text), &utf16(pattern), k);
        match case.get("expected") {
            Some(want) => assert_eq!(got, matches(want), "search({text:?}, {pattern:?}, {k})"),
            None => assert_eq!(got.len() as u64, case["expected_count"].as_u64().unwrap(), "count for {pattern:?}"),
        }
        n += 1;
    }
    assert!(n >= 15, "only {n} cases read");
}

fn chars(s: Option<&str>) -> Vec<char> {
    s.unwrap_or("").chars().collect()
}

#[test]
fn hypothesis_match_quote_cases() {
    let cases = json("hypothesis-anchoring-fixtures/match-quote-cases.json");
    let list = cases["cases"].as_array().unwrap();
    assert!(list.len() >= 15);
    for case in list {
        let name = case["name"].as_str().unwrap();
        let text = case["text"].as_str().unwrap();
        let quote = case["quote"].as_str().unwrap();
        let (prefix, suffix) = (case["prefix"].as_str(), case["suffix"].as_str());
        let hint = case["hint"].as_u64().map(|h| h as usize);
        let want = case["expected"]["start"].as_u64().map(|s| s as usize);
        let starts_with = case["expected"]["matched_text_startswith"].as_str().unwrap_or("");

        // Hypothesis's own algorithm, reproduced.
        let t = chars(Some(text));
        let got = match_quote(&t, &chars(Some(quote)), &chars(prefix), &chars(suffix), hint);
        assert_eq!(got.map(|g| g.0), want, "match_quote: {name}");

        // Cairn's resolver must agree on every case (offsets are code points; the texts are BMP).
        let mut selectors = vec![Selector::TextQuoteSelector {
            exact: quote.into(),
            prefix: prefix.map(Into::into),
            suffix: suffix.map(Into::into),
        }];
        if let Some(h) = hint {
            selectors.push(Selector::TextPositionSelector { start: h as u64, end: (h + quote.chars().count()) as u64 });
        }
        let a = resolve(&TextIndex::new(text), &selectors);
        assert_eq!(a.map(|a| a.start), want, "resolve: {name}");
        if let Some(a) = a {
            let matched: String = t[a.start..].iter().collect();
            assert!(matched.starts_with(starts_with), "resolve: {name}: matched {matched:?}");
        }
    }
}

#[test]
fn hypothesis_ranking_cases() {
    let cases = json("hypothesis-anchoring-fixtures/match-quote-cases.json");
    for case in cases["ranking_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let t = chars(case["text"].as_str());
        let strs =
            |k: &str| case[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect::<Vec<_>>();
        let scores: Vec<f32> = if case.get("quotes_desc").is_some() {
            strs("quotes_desc").iter().map(|q| match_quote(&t, &chars(Some(q)), &[], &[], None).unwrap().2).collect()
        } else if case.get("prefixes_desc").is_some() {
            let q = chars(case["quote"].as_str());
            strs("prefixes_desc").iter().map(|p| match_quote(&t, &q, &chars(Some(p)), &[], None).unwrap().2).collect()
        } else {
            let q = chars(case["quote"].as_str());
            strs("suffixes_desc").iter().map(|s| match_quote(&t, &q, &[], &chars(Some(s)), None).unwrap().2).collect()
        };
        assert!(scores.windows(2).all(|w| w[0] > w[1]), "{name}: scores not descending: {scores:?}");
    }
}

/// A parsed Apache Annotator case document: its text nodes in document order with
/// their UTF-16 start offsets. Apache's scope is the whole document (`<head>` too),
/// unlike Cairn's text model (`<body>`), so the harness builds the scope text itself.
struct Dom {
    doc: Document,
    nodes: Vec<(NodeId, usize)>,
    text: String,
}

impl Dom {
    fn new(html: &str) -> Dom {
        let doc = Document::from(html);
        let (mut nodes, mut text) = (Vec::new(), String::new());
        let mut stack = vec![doc.root().id];
        while let Some(id) = stack.pop() {
            let node = NodeRef::new(id, &doc.tree);
            if node.is_text() {
                nodes.push((id, text.encode_utf16().count()));
                text.push_str(&node.text());
            }
            stack.extend(node.children_it(true).map(|c| c.id));
        }
        Dom { doc, nodes, text }
    }

    /// The few XPath forms the cases use: `//name`, then `/name[n]` or `/text()[n]` steps.
    fn xpath(&self, path: &str) -> NodeId {
        let mut steps = path.trim_start_matches('/').split('/');
        let first = steps.next().unwrap();
        let mut node = self.doc.select(first).nodes().first().unwrap_or_else(|| panic!("no {first}")).id;
        for step in steps {
            let (name, n) = match step.split_once('[') {
                Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().unwrap()),
                None => (step, 1),
            };
            let parent = NodeRef::new(node, &self.doc.tree);
            node = parent
                .children_it(false)
                .filter(|c| if name == "text()" { c.is_text() } else { c.node_name().as_deref() == Some(name) })
                .nth(n - 1)
                .unwrap_or_else(|| panic!("no {step} in {path}"))
                .id;
        }
        node
    }

    /// A DOM boundary point `(xpath, utf16 offset)` as a code point offset of the scope text.
    fn offset(&self, index: &TextIndex<'_>, xpath: &Value, offset: &Value) -> usize {
        let id = self.xpath(xpath.as_str().unwrap());
        let start = self.nodes.iter().find(|(n, _)| *n == id).expect("a text node").1;
        index.utf16_to_char(start + offset.as_u64().unwrap() as usize)
    }

    fn range(&self, index: &TextIndex<'_>, r: &Value) -> (usize, usize) {
        (
            self.offset(index, &r["startContainerXPath"], &r["startOffset"]),
            self.offset(index, &r["endContainerXPath"], &r["endOffset"]),
        )
    }
}

#[test]
fn apache_text_quote_match_cases() {
    let cases = json("apache-annotator-selector-cases/text-quote-match-cases.json");
    let list = cases["testCases"].as_object().unwrap();
    assert!(list.len() >= 20);
    for (name, case) in list {
        let dom = Dom::new(case["html"].as_str().unwrap());
        let index = TextIndex::new(&dom.text);
        let want: Vec<(usize, usize)> =
            case["expected"].as_array().unwrap().iter().map(|r| dom.range(&index, r)).collect();
        let s = &case["selector"];
        let (exact, prefix, suffix) =
            (s["exact"].as_str().unwrap(), s["prefix"].as_str().unwrap_or(""), s["suffix"].as_str().unwrap_or(""));
        assert_eq!(occurrences(&index, exact, prefix, suffix), want, "{name}");
        // The forgiving resolver picks one of the strict matches whenever there are any.
        let selector: Selector = serde_json::from_value(s.clone()).unwrap();
        if !want.is_empty() && !exact.is_empty() {
            let a = resolve(&index, &[selector]).unwrap_or_else(|| panic!("{name}: resolve found nothing"));
            assert!(want.contains(&(a.start, a.end)), "{name}: resolve gave {a:?}, want one of {want:?}");
        }
    }
}

#[test]
fn apache_text_position_match_cases() {
    let cases = json("apache-annotator-selector-cases/text-position-match-cases.json");
    let list = cases["testCases"].as_object().unwrap();
    assert!(list.len() >= 7);
    for (name, case) in list {
        let dom = Dom::new(case["html"].as_str().unwrap());
        let index = TextIndex::new(&dom.text);
        let want: Vec<(usize, usize)> =
            case["expected"].as_array().unwrap().iter().map(|r| dom.range(&index, r)).collect();
        let selector: Selector = serde_json::from_value(case["selector"].clone()).unwrap();
        let a = resolve(&index, &[selector]).unwrap_or_else(|| panic!("{name}: nothing"));
        assert_eq!(a.method, Method::PositionOnly);
        assert_eq!(vec![(a.start, a.end)], want, "{name}");
    }
}

fn opt_str(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[test]
fn apache_text_quote_describe_cases() {
    let cases = json("apache-annotator-selector-cases/text-quote-describe-cases.json");
    let mut n = 0;
    for (group, list) in cases.as_object().unwrap() {
        for (name, case) in list.as_object().unwrap() {
            let dom = Dom::new(case["html"].as_str().unwrap());
            let index = TextIndex::new(&dom.text);
            let (start, end) = dom.range(&index, &case["range"]);
            let o = &case["options"];
            let defaults = MinimalOptions::default();
            let opts = MinimalOptions {
                minimal_context: o["minimalContext"].as_bool().unwrap_or(defaults.minimal_context),
                minimum_quote_length: o["minimumQuoteLength"]
                    .as_u64()
                    .map_or(defaults.minimum_quote_length, |v| v as usize),
                max_word_length: o["maxWordLength"].as_u64().map_or(defaults.max_word_length, |v| v as usize),
            };
            let got =
                describe_minimal(&index, start, end, &opts).unwrap_or_else(|| panic!("{group}/{name}: no selector"));
            let Selector::TextQuoteSelector { exact, prefix, suffix } = &got else { panic!("{group}/{name}: {got:?}") };
            let want = &case["expected"];
            assert_eq!(
                (prefix.as_deref().unwrap_or(""), exact.as_str(), suffix.as_deref().unwrap_or("")),
                (opt_str(&want["prefix"]), opt_str(&want["exact"]), opt_str(&want["suffix"])),
                "{group}/{name}"
            );
            // And the selector is unambiguous: it matches the target only.
            let prefix = prefix.as_deref().unwrap_or("");
            let suffix = suffix.as_deref().unwrap_or("");
            assert_eq!(occurrences(&index, exact, prefix, suffix), vec![(start, end)], "{group}/{name}: not unique");
            n += 1;
        }
    }
    assert!(n >= 20, "only {n} describe cases read");
}

#[test]
fn apache_css_match_cases() {
    let cases = json("apache-annotator-selector-cases/css-match-cases.json");
    let list = cases["testCases"].as_object().unwrap();
    assert!(list.len() >= 3);
    for (name, case) in list {
        let dom = Dom::new(case["html"].as_str().unwrap());
        let selector: Selector = serde_json::from_value(case["selector"].clone()).unwrap();
        let Selector::CssSelector { value } = selector else { panic!("{name}: not a CssSelector") };
        let scope = case.get("scopeXPath").map(|x| NodeRef::new(dom.xpath(x.as_str().unwrap()), &dom.doc.tree));
        let got: Vec<NodeId> = css_select(&dom.doc, &value, scope.as_ref()).unwrap().iter().map(|n| n.id).collect();
        let want: Vec<NodeId> =
            case["expected"].as_array().unwrap().iter().map(|x| dom.xpath(x.as_str().unwrap())).collect();
        assert_eq!(got, want, "{name}");
    }
}
