use std::sync::OnceLock;

/// Converts between the three ways of counting a position in a string:
/// UTF-8 bytes (Rust), UTF-16 code units (the DOM), code points (W3C selectors).
///
/// Keeps one checkpoint every [`STRIDE`] code points, so a conversion walks at most
/// `STRIDE` characters and the index costs ~1/4 of the text's size in memory at most.
///
/// Build one per page text and reuse it for every annotation on the page: the
/// decoded code points that fuzzy matching needs are made once, on first use.
pub struct TextIndex<'a> {
    text: &'a str,
    /// The text as code points, decoded lazily (only fuzzy matching needs it).
    decoded: OnceLock<Vec<char>>,
    /// The text with each whitespace run collapsed to one space, and for every byte of
    /// it that starts a character (plus the end) the code point of the original it
    /// came from. Built lazily: only quotes whose whitespace changed need it.
    collapsed: OnceLock<(String, Vec<u32>)>,
    /// (byte, utf16, char) at every STRIDE-th code point.
    checkpoints: Vec<(u32, u32, u32)>,
    chars: usize,
    utf16_len: usize,
}

const STRIDE: usize = 64;

impl<'a> TextIndex<'a> {
    pub fn new(text: &'a str) -> TextIndex<'a> {
        let mut checkpoints = Vec::with_capacity(text.len() / STRIDE + 1);
        let (mut u16s, mut chars) = (0u32, 0u32);
        for (byte, c) in text.char_indices() {
            if chars as usize % STRIDE == 0 {
                checkpoints.push((byte as u32, u16s, chars));
            }
            u16s += c.len_utf16() as u32;
            chars += 1;
        }
        TextIndex {
            text,
            decoded: OnceLock::new(),
            collapsed: OnceLock::new(),
            checkpoints,
            chars: chars as usize,
            utf16_len: u16s as usize,
        }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The text as code points (decoded on first call, then shared).
    pub fn chars(&self) -> &[char] {
        self.decoded.get_or_init(|| self.text.chars().collect())
    }

    /// The whitespace-collapsed text and its byte → original code point map
    /// (see [`collapse_whitespace`]).
    pub fn collapsed(&self) -> (&str, &[u32]) {
        let (t, m) = self.collapsed.get_or_init(|| {
            let mut out = String::with_capacity(self.text.len());
            let mut map = Vec::with_capacity(self.text.len() + 1);
            let mut in_space = false;
            for (i, c) in self.text.chars().enumerate() {
                let space = c.is_whitespace();
                if space && in_space {
                    continue;
                }
                in_space = space;
                let c = if space { ' ' } else { c };
                map.resize(out.len(), u32::MAX);
                map.push(i as u32);
                out.push(c);
            }
            map.resize(out.len(), u32::MAX);
            map.push(self.chars as u32);
            (out, map)
        });
        (t, m)
    }

    /// Length in code points.
    pub fn char_len(&self) -> usize {
        self.chars
    }

    pub fn utf16_len(&self) -> usize {
        self.utf16_len
    }

    /// The byte offset of code point `c` (clamped to the end).
    pub fn char_to_byte(&self, c: usize) -> usize {
        if c >= self.chars {
            return self.text.len();
        }
        let (b, _, ch) = self.checkpoints[c / STRIDE];
        let rest = &self.text[b as usize..];
        b as usize + rest.char_indices().nth(c - ch as usize).map(|(i, _)| i).unwrap_or(rest.len())
    }

    /// The code point at byte offset `b`, which must be a char boundary.
    pub fn byte_to_char(&self, b: usize) -> usize {
        let i = self.checkpoints.partition_point(|&(cb, _, _)| cb as usize <= b).saturating_sub(1);
        let Some(&(cb, _, ch)) = self.checkpoints.get(i) else { return 0 };
        ch as usize + self.text[cb as usize..b].chars().count()
    }

    pub fn char_to_utf16(&self, c: usize) -> usize {
        if c >= self.chars {
            return self.utf16_len;
        }
        let (b, u, ch) = self.checkpoints[c / STRIDE];
        u as usize + self.text[b as usize..].chars().take(c - ch as usize).map(char::len_utf16).sum::<usize>()
    }

    /// The code point containing UTF-16 unit `u`; a position inside a surrogate
    /// pair rounds down to the start of that code point.
    pub fn utf16_to_char(&self, u: usize) -> usize {
        if u >= self.utf16_len {
            return self.chars;
        }
        let i = self.checkpoints.partition_point(|&(_, cu, _)| cu as usize <= u).saturating_sub(1);
        let (b, mut cu, mut ch) = self.checkpoints[i];
        for c in self.text[b as usize..].chars() {
            let next = cu as usize + c.len_utf16();
            if next > u {
                break;
            }
            cu = next as u32;
            ch += 1;
        }
        ch as usize
    }
}

/// `s` with each whitespace run collapsed to one space: what [`TextIndex::collapsed`] does
/// to the page, done to a quote.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        let space = c.is_whitespace();
        if !(space && in_space) {
            out.push(if space { ' ' } else { c });
        }
        in_space = space;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_agree_on_mixed_text() {
        let text = "aé😀b".repeat(50);
        let idx = TextIndex::new(&text);
        assert_eq!(idx.char_len(), 200);
        assert_eq!(idx.utf16_len(), 250);
        let mut u = 0;
        let mut b = 0;
        for (c, ch) in text.chars().enumerate() {
            assert_eq!(idx.char_to_utf16(c), u, "char {c}");
            assert_eq!(idx.utf16_to_char(u), c, "utf16 {u}");
            assert_eq!(idx.char_to_byte(c), b);
            assert_eq!(idx.byte_to_char(b), c);
            u += ch.len_utf16();
            b += ch.len_utf8();
        }
        assert_eq!(idx.char_to_utf16(200), 250);
        assert_eq!(idx.utf16_to_char(250), 200);
        // Inside a surrogate pair: round down.
        assert_eq!(idx.utf16_to_char(3), 2);
    }

    #[test]
    fn collapsed_text_maps_back_to_code_points() {
        let idx = TextIndex::new("é  a\n\t b ");
        let (t, map) = idx.collapsed();
        assert_eq!(t, "é a b ");
        // 'a' is byte 3 of the collapsed text, code point 3 of the original.
        assert_eq!((map[0], map[2], map[3], map[4], map[5], map[t.len()]), (0, 1, 3, 4, 7, 9));
        assert_eq!(collapse_whitespace(" x \n y"), " x y");
    }

    #[test]
    fn empty_text() {
        let idx = TextIndex::new("");
        assert_eq!(idx.char_to_byte(3), 0);
        assert_eq!(idx.utf16_to_char(0), 0);
        assert_eq!(idx.byte_to_char(0), 0);
    }
}
