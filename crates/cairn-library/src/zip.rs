//! A minimal ZIP writer (stored entries, no compression) for "download clips as
//! a zip" and the Markdown vault export. Markdown is small and the browser's download is
//! local, so compression would buy little; what matters is that every unzip tool opens the
//! file. Archives are plain ZIP (no ZIP64): up to 65,535 entries and 4 GiB, far above what
//! a user's annotations make.

/// Builds a ZIP archive of `(file name, contents)` entries.
pub fn zip_stored(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let name = name.as_bytes();
        // Local file header. Flag bit 11: the name is UTF-8.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0x0800u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, internal attrs, external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A file name for a clip or a page: its title without characters file systems refuse,
/// short enough for every system, and unique within `taken`.
pub fn clip_file_name(title: &str, taken: &mut Vec<String>) -> String {
    let cleaned: String =
        title
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control() {
                    ' '
                } else {
                    c
                }
            })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
    let base: String = cleaned.trim_matches('.').chars().take(80).collect();
    let base = if base.is_empty() { "clip".to_string() } else { base };
    let mut name = format!("{base}.md");
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base} ({n}).md");
        n += 1;
    }
    taken.push(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn archive_lists_its_entries() {
        let zip = zip_stored(&[("a.md".into(), b"# A\n".to_vec()), ("été.md".into(), b"x".to_vec())]);
        assert_eq!(&zip[..4], b"PK\x03\x04");
        // End of central directory: two entries, central directory offset inside the file.
        let eocd = &zip[zip.len() - 22..];
        assert_eq!(&eocd[..4], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([eocd[10], eocd[11]]), 2);
        let cd_offset = u32::from_le_bytes([eocd[16], eocd[17], eocd[18], eocd[19]]) as usize;
        assert_eq!(&zip[cd_offset..cd_offset + 4], b"PK\x01\x02");
        assert!(zip.windows(4).any(|w| w == b"# A\n"));
    }

    #[test]
    fn file_names_are_safe_and_unique() {
        let mut taken = Vec::new();
        assert_eq!(clip_file_name("Runbook: deploys / rollbacks?", &mut taken), "Runbook deploys rollbacks.md");
        assert_eq!(clip_file_name("Runbook: deploys / rollbacks?", &mut taken), "Runbook deploys rollbacks (2).md");
        assert_eq!(clip_file_name("...", &mut taken), "clip.md");
        assert_eq!(clip_file_name(&"x".repeat(300), &mut taken).chars().count(), 83);
    }
}
