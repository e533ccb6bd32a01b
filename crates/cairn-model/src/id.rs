use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The id of an annotation: a UUIDv7, made by the device that created it.
///
/// Client-made ids let a highlight exist (and be referred to) before any server
/// has seen it; version 7 sorts by creation time, which keeps "newest first"
/// cheap everywhere. In JSON-LD the id is written as a `urn:uuid:` IRI.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnnotationId(Uuid);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    /// Not a UUID at all, with or without the `urn:uuid:` prefix.
    NotAUuid(String),
    /// A UUID, but not version 7.
    NotVersion7(String),
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::NotAUuid(s) => write!(f, "annotation id {s:?} is not a UUID (expected urn:uuid:<uuid v7>)"),
            IdError::NotVersion7(s) => write!(f, "annotation id {s:?} is not a version 7 UUID"),
        }
    }
}

impl std::error::Error for IdError {}

impl AnnotationId {
    /// Builds an id from the creation time and 10 random bytes.
    /// The caller supplies both so that this crate stays free of clocks and RNGs.
    pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> AnnotationId {
        AnnotationId(uuid::Builder::from_unix_timestamp_millis(unix_ms, &random).into_uuid())
    }

    /// Milliseconds since the Unix epoch at which the id was made.
    pub fn unix_ms(&self) -> u64 {
        let b = self.0.as_bytes();
        b[..6].iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    }

    /// The `urn:uuid:` IRI used as the annotation's JSON-LD `id`.
    pub fn to_urn(&self) -> String {
        format!("urn:uuid:{}", self.0.hyphenated())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl FromStr for AnnotationId {
    type Err = IdError;

    /// Accepts `urn:uuid:<uuid>` or a bare hyphenated UUID; only version 7.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bare = s.strip_prefix("urn:uuid:").unwrap_or(s);
        // Only the canonical hyphenated form: other spellings of the same UUID
        // would make two ids for one annotation.
        if bare.len() != 36 {
            return Err(IdError::NotAUuid(truncate(s)));
        }
        let uuid = Uuid::parse_str(bare).map_err(|_| IdError::NotAUuid(truncate(s)))?;
        if uuid.get_version_num() != 7 {
            return Err(IdError::NotVersion7(truncate(s)));
        }
        Ok(AnnotationId(uuid))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

impl fmt::Display for AnnotationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl fmt::Debug for AnnotationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnnotationId({})", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_sort_by_time_and_round_trip() {
        let a = AnnotationId::new_v7(1_700_000_000_000, [7; 10]);
        let b = AnnotationId::new_v7(1_700_000_000_001, [0; 10]);
        assert!(a < b);
        assert_eq!(a.unix_ms(), 1_700_000_000_000);
        assert_eq!(a.to_urn().parse::<AnnotationId>().unwrap(), a);
        assert_eq!(a.to_string().parse::<AnnotationId>().unwrap(), a);
    }

    #[test]
    fn rejects_other_versions_and_junk() {
        assert!(matches!(
            "urn:uuid:6fa459ea-ee8a-3ca4-894e-db77e160355e".parse::<AnnotationId>(),
            Err(IdError::NotVersion7(_))
        ));
        assert!(matches!("'; drop table x; --".parse::<AnnotationId>(), Err(IdError::NotAUuid(_))));
        assert!(matches!("0190f0c2e2d87c3e8b4a1b2c3d4e5f60".parse::<AnnotationId>(), Err(IdError::NotAUuid(_))));
    }
}
