//! Records for the tests, built the way the extension builds them.
#![allow(dead_code)]

use cairn_model::{Annotation, AnnotationId, ClipKind, Color, PageKey, Selector};
use cairn_sync::LocalRecord;

pub const T0: i64 = 1_795_442_966_000;
pub const DAY: i64 = 86_400_000;

/// A highlight of `quote` at `start` on `url`, made `n` minutes after T0 (ids follow `n`).
pub fn highlight(n: u8, url: &str, quote: &str, start: u64) -> LocalRecord {
    let created = T0 + i64::from(n) * 60_000;
    let selectors = vec![
        Selector::TextQuoteSelector { exact: quote.into(), prefix: Some("before ".into()), suffix: None },
        Selector::TextPositionSelector { start, end: start + quote.chars().count() as u64 },
    ];
    let a = Annotation::new_highlight(
        AnnotationId::new_v7(created as u64, [n; 10]),
        url,
        selectors,
        Color::Yellow,
        created,
    );
    LocalRecord::own(a, &PageKey::from_url(url).unwrap(), created, None, false)
}

pub fn with_note(mut r: LocalRecord, note: &str) -> LocalRecord {
    r.annotation.set_note(note);
    r
}

pub fn with_tags(mut r: LocalRecord, tags: &[&str]) -> LocalRecord {
    r.annotation.set_tags(tags.iter().copied());
    r
}

pub fn by_teammate(mut r: LocalRecord, name: &str) -> LocalRecord {
    r.teammate = Some(name.into());
    r
}

pub fn clip(n: u8, url: &str, title: &str, body: &str) -> LocalRecord {
    let created = T0 + i64::from(n) * 60_000;
    let fm = cairn_clip::front_matter(&cairn_clip::FrontMatter {
        title: title.into(),
        source: url.into(),
        clipped: cairn_model::format_rfc3339_ms(created),
        ..Default::default()
    });
    let a = Annotation::new_clip(
        AnnotationId::new_v7(created as u64, [n; 10]),
        ClipKind::Article,
        url,
        vec![],
        &format!("{fm}{body}"),
        created,
    );
    LocalRecord::own(a, &PageKey::from_url(url).unwrap(), created, None, false)
}

pub fn color(mut r: LocalRecord, c: Color) -> LocalRecord {
    r.annotation.target.style_class = Some(c.style_class());
    r
}
