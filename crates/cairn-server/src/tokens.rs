//! Bearer tokens: 256 random bits shown to their owner once.
//!
//! Only a SHA-256 of the token is stored. A fast hash is enough here (unlike
//! passwords) because the input has full entropy: a stolen database does not
//! let anyone guess tokens back. The short prefix is kept in clear so an admin
//! can tell tokens apart and revoke one without ever seeing the whole thing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "cairn_";
/// Characters of the token kept as its display prefix: `cairn_` plus 8 of the
/// random part (48 bits), which names a token without weakening it.
pub const DISPLAY_PREFIX_CHARS: usize = TOKEN_PREFIX.len() + 8;

/// A freshly made token: `secret` goes to the user, the rest to the database.
pub struct NewToken {
    pub secret: String,
    pub hash: String,
    pub prefix: String,
}

pub fn generate() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    NewToken { hash: hash(&secret), prefix: secret[..DISPLAY_PREFIX_CHARS].to_string(), secret }
}

/// An invite code: 128 random bits, `inv_` and 22 URL-safe characters; stored
/// only as its [`hash`], like a token.
pub fn invite_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("inv_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hex SHA-256 under which a token is stored and looked up.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a string has the shape of a Cairn token, so obviously wrong input
/// is refused without a database lookup.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_PREFIX.len() + 43
        && s.starts_with(TOKEN_PREFIX)
        && s[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_well_formed_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(looks_like_token(&a.secret), "{}", a.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(!a.hash.contains(&a.secret[TOKEN_PREFIX.len()..]));
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), DISPLAY_PREFIX_CHARS);
    }

    #[test]
    fn known_hash() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn shape_check_refuses_junk() {
        assert!(!looks_like_token("cairn_short"));
        assert!(!looks_like_token(&format!("other_{}", "a".repeat(43))));
        assert!(!looks_like_token(&format!("cairn_{}", "a/".repeat(21) + "a")));
    }
}
