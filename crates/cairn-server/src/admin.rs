//! What an operator does from the command line (and what `serve --demo` seeds):
//! accounts, communities, memberships and tokens. Input is checked here, so the
//! CLI can report a readable error before anything reaches the database.

use anyhow::{bail, Context};
use cairn_protocol::api::Role;

use crate::store::{Community, RevokeTokens, Store, StoreError, User};
use crate::{now_ms, passwords, tokens};

const MAX_NAME_CHARS: usize = 100;
const MAX_HANDLE_CHARS: usize = 64;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Usernames: lowercase letters, digits, `.`, `_`, `-`. Plain handles cannot be
/// confused with each other on screen.
pub fn check_username(username: &str) -> anyhow::Result<()> {
    let ok = !username.is_empty()
        && username.len() <= MAX_HANDLE_CHARS
        && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        bail!("username {username:?} must be 1 to {MAX_HANDLE_CHARS} characters of a-z, 0-9, '.', '_' and '-'");
    }
    Ok(())
}

/// Community slugs appear in URLs and IRIs (`urn:cairn:community:<slug>`).
pub fn check_slug(slug: &str) -> anyhow::Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= MAX_HANDLE_CHARS
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !ok {
        bail!("community slug {slug:?} must be 1 to {MAX_HANDLE_CHARS} characters of a-z, 0-9 and '-', not starting with '-'");
    }
    Ok(())
}

fn check_display_name(what: &str, name: &str) -> anyhow::Result<()> {
    let n = name.trim().chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        bail!("{what} must be 1 to {MAX_NAME_CHARS} printable characters");
    }
    Ok(())
}

pub async fn add_user(
    store: &dyn Store,
    username: &str,
    display_name: &str,
    password: Option<&str>,
) -> anyhow::Result<User> {
    check_username(username)?;
    check_display_name("the display name", display_name)?;
    let hash = match password {
        Some(p) => Some(hash_new_password(p)?),
        None => None,
    };
    Ok(store.create_user(username, display_name.trim(), hash.as_deref(), now_ms()).await?)
}

fn hash_new_password(password: &str) -> anyhow::Result<String> {
    passwords::check_new(password).map_err(anyhow::Error::msg)?;
    passwords::hash(password).map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Sets `username`'s password (`cairn-server user passwd`); with
/// `revoke_tokens`, also revokes every token they hold. Answers how many were revoked.
pub async fn set_password(
    store: &dyn Store,
    username: &str,
    password: &str,
    revoke_tokens: bool,
) -> anyhow::Result<u64> {
    let (user, _) = store.user_with_password(username).await?.with_context(|| format!("no user named {username:?}"))?;
    let hash = hash_new_password(password)?;
    let revoke = if revoke_tokens { RevokeTokens::All } else { RevokeTokens::Nothing };
    Ok(store.set_password(&user.id, &hash, revoke, now_ms()).await?)
}

pub async fn create_community(store: &dyn Store, slug: &str, name: &str) -> anyhow::Result<Community> {
    check_slug(slug)?;
    check_display_name("the community name", name)?;
    Ok(store.create_community(slug, name.trim(), now_ms()).await?)
}

pub async fn add_member(store: &dyn Store, slug: &str, username: &str, role: Role) -> anyhow::Result<()> {
    let community = store.community(slug).await?.with_context(|| format!("no community with slug {slug:?}"))?;
    let (user, _) = store.user_with_password(username).await?.with_context(|| format!("no user named {username:?}"))?;
    store.set_membership(&user.id, &community.id, role, now_ms()).await?;
    Ok(())
}

async fn community_named(store: &dyn Store, slug: &str) -> anyhow::Result<Community> {
    store.community(slug).await?.with_context(|| format!("no community with slug {slug:?}"))
}

pub async fn rename_community(store: &dyn Store, slug: &str, name: &str) -> anyhow::Result<()> {
    check_display_name("the community name", name)?;
    let community = community_named(store, slug).await?;
    Ok(store.rename_community(&community.id, name.trim()).await?)
}

pub async fn archive_community(store: &dyn Store, slug: &str, archived: bool) -> anyhow::Result<()> {
    let community = community_named(store, slug).await?;
    Ok(store.set_archived(&community.id, archived.then(now_ms)).await?)
}

pub async fn remove_member(store: &dyn Store, slug: &str, username: &str) -> anyhow::Result<()> {
    let community = community_named(store, slug).await?;
    let (user, _) = store.user_with_password(username).await?.with_context(|| format!("no user named {username:?}"))?;
    if !store.remove_membership(&user.id, &community.id).await? {
        bail!("{username} is not a member of {slug}");
    }
    Ok(())
}

/// Makes an invite code for `slug` on behalf of one of its owners; returns the code.
pub async fn invite(store: &dyn Store, slug: &str, multi_use: bool, hours: u32) -> anyhow::Result<String> {
    let community = community_named(store, slug).await?;
    let owner = store
        .members(&community.id)
        .await?
        .into_iter()
        .find(|m| m.role == Role::Owner)
        .with_context(|| format!("{slug} has no owner to invite on behalf of; add one first"))?;
    let code = tokens::invite_code();
    let now = now_ms();
    let expires = now + i64::from(hours.clamp(1, 24 * 90)) * 3_600_000;
    store
        .create_invite(
            &community.id,
            &owner.user.id,
            &tokens::hash(&code),
            Some(expires),
            (!multi_use).then_some(1),
            now,
        )
        .await?;
    Ok(code)
}

/// Issues a token for `username` and returns it; it cannot be shown again.
pub async fn issue_token(store: &dyn Store, username: &str, expires_days: Option<u32>) -> anyhow::Result<String> {
    let (user, _) = store.user_with_password(username).await?.with_context(|| format!("no user named {username:?}"))?;
    let token = tokens::generate();
    let now = now_ms();
    let expires = expires_days.map(|d| now + i64::from(d) * DAY_MS);
    store.insert_token(&user.id, &token, "issued by an admin", expires, now).await?;
    Ok(token.secret)
}

/// Revokes by the display prefix (`cairn_` and 8 more characters) or by the whole token.
pub async fn revoke_token(store: &dyn Store, prefix_or_token: &str) -> anyhow::Result<u64> {
    let key = if tokens::looks_like_token(prefix_or_token) {
        tokens::hash(prefix_or_token)
    } else if prefix_or_token.len() == tokens::DISPLAY_PREFIX_CHARS && prefix_or_token.starts_with(tokens::TOKEN_PREFIX)
    {
        prefix_or_token.to_string()
    } else {
        bail!(
            "{prefix_or_token:?} is neither a token nor a token prefix; a prefix is the first {} characters, like cairn_AbCdEfGh",
            tokens::DISPLAY_PREFIX_CHARS
        );
    };
    let n = store.revoke_tokens(&key, now_ms()).await?;
    if n == 0 {
        bail!("no live token matches {prefix_or_token:?} (it may be revoked already)");
    }
    Ok(n)
}

/// The accounts `serve --demo` creates. Passwords are public: demo servers only.
pub const DEMO_USERS: &[(&str, &str, &str)] = &[
    ("alice", "Alice Example", "alice-demo-password"),
    ("bob", "Bob Example", "bob-demo-password"),
    ("carol", "Carol Outsider", "carol-demo-password"),
];

/// Seeds the demo accounts and communities; running it again changes nothing.
pub async fn seed_demo(store: &dyn Store) -> anyhow::Result<()> {
    for (username, display_name, password) in DEMO_USERS {
        if store.user_with_password(username).await?.is_some() {
            continue;
        }
        match add_user(store, username, display_name, Some(password)).await {
            Ok(_) => {}
            // Another process seeding the same directory got there first.
            Err(e) if matches!(e.downcast_ref::<StoreError>(), Some(StoreError::AlreadyExists(_))) => {}
            Err(e) => return Err(e),
        }
    }
    for (slug, name) in [("demo-team", "Demo team"), ("other-team", "Other team")] {
        if store.community(slug).await?.is_none() {
            create_community(store, slug, name).await?;
        }
    }
    add_member(store, "demo-team", "alice", Role::Owner).await?;
    add_member(store, "demo-team", "bob", Role::Member).await?;
    add_member(store, "other-team", "carol", Role::Owner).await?;
    Ok(())
}
