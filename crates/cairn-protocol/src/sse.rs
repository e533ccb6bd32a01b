//! Reading a `text/event-stream` (the server's live stream, `GET /v1/events`) as it
//! arrives, chunk by chunk: pure, so the browser glue only moves bytes.

/// One event of a server-sent event stream: its `event:` name and `data:` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub name: String,
    pub data: String,
}

/// Feeds bytes of a `text/event-stream` in and takes whole events out (a chunk may
/// end anywhere, even inside a character).
#[derive(Default)]
pub struct EventParser {
    pending: Vec<u8>,
    name: String,
    data: String,
}

impl EventParser {
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.name.is_empty() || !self.data.is_empty() {
                    let name = std::mem::take(&mut self.name);
                    out.push(StreamEvent {
                        name: if name.is_empty() { "message".into() } else { name },
                        data: std::mem::take(&mut self.data),
                    });
                }
            } else if let Some(v) = line.strip_prefix("event:") {
                self.name = v.trim_start().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
            // Comments (`:` keep-alives), ids and retry hints are not needed here.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_chunks_and_keep_alives_are_skipped() {
        let stream = ": keep-alive\n\nevent: change\ndata: {\"community\":\"c\",\"seq\":4}\n\nevent: resync\ndata:\n\ndata: a\r\ndata: b\n\n";
        for cut in 0..stream.len() {
            let mut p = EventParser::default();
            let mut out = Vec::new();
            p.feed(&stream.as_bytes()[..cut], &mut out);
            p.feed(&stream.as_bytes()[cut..], &mut out);
            let got: Vec<(&str, &str)> = out.iter().map(|e| (e.name.as_str(), e.data.as_str())).collect();
            assert_eq!(
                got,
                [("change", r#"{"community":"c","seq":4}"#), ("resync", ""), ("message", "a\nb")],
                "cut at {cut}"
            );
        }
    }
}
