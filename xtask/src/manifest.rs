//! The shipped `manifest.json`, derived from the root one (the single source of truth).
//!
//! Keys starting with `$` are comments and are dropped; `version` comes from the root
//! `Cargo.toml`'s `[workspace.package] version` when there is one.

use std::path::Path;

use serde_json::{Map, Value};

use crate::util::Result;

/// The manifest to ship: `src` without `$` keys (at the top level), with `version` if given.
pub fn derive(src: &str, version: Option<&str>) -> Result<Value> {
    let value: Value = serde_json::from_str(src).map_err(|e| format!("manifest.json is not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("manifest.json must be a JSON object".into());
    };
    let mut out: Map<String, Value> = map.into_iter().filter(|(k, _)| !k.starts_with('$')).collect();
    if let Some(v) = version {
        out.insert("version".into(), Value::String(v.into()));
    }
    Ok(Value::Object(out))
}

/// `[workspace.package] version = "..."` from a root `Cargo.toml`, read by hand (no toml crate).
pub fn workspace_version(cargo_toml: &str) -> Option<String> {
    let mut in_section = false;
    for line in cargo_toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "version" {
            let value = value.split('#').next().unwrap_or("").trim();
            return Some(value.trim_matches('"').to_string()).filter(|v| !v.is_empty());
        }
    }
    None
}

/// Every file the manifest names, relative to the extension root, wildcards left out.
pub fn referenced_files(manifest: &Value) -> Vec<String> {
    let mut files = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str) {
            files.push(s.trim_start_matches('/').to_string());
        }
    };
    let m = manifest;
    add(m.pointer("/background/service_worker"));
    add(m.pointer("/background/page"));
    add(m.pointer("/action/default_popup"));
    add(m.pointer("/browser_action/default_popup"));
    add(m.pointer("/side_panel/default_path"));
    add(m.pointer("/sidebar_action/default_panel"));
    add(m.get("options_page"));
    add(m.pointer("/options_ui/page"));
    add(m.get("devtools_page"));
    add(m.pointer("/side_panel/default_path"));
    add(m.pointer("/sidebar_action/default_panel"));
    for v in arr(m.pointer("/background/scripts")) {
        add(Some(v));
    }
    for cs in arr(m.get("content_scripts")) {
        for v in arr(cs.get("js")).chain(arr(cs.get("css"))) {
            add(Some(v));
        }
    }
    // Icons: a map size -> path, or (action.default_icon) a plain path.
    for icons in [m.get("icons"), m.pointer("/action/default_icon"), m.pointer("/browser_action/default_icon")]
        .into_iter()
        .flatten()
    {
        match icons {
            Value::Object(map) => map.values().for_each(|v| add(Some(v))),
            v => add(Some(v)),
        }
    }
    // MV3: [{resources: [...], matches: [...]}]; MV2: [...].
    for war in arr(m.get("web_accessible_resources")) {
        match war {
            Value::Object(o) => arr(o.get("resources")).for_each(|v| add(Some(v))),
            v => add(Some(v)),
        }
    }
    files.retain(|f| !f.contains('*') && !f.is_empty());
    files.sort();
    files.dedup();
    files
}

fn arr(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// Fails, listing them all, if files the manifest names are missing from `dist`.
pub fn validate(dist: &Path, manifest: &Value) -> Result {
    let missing: Vec<String> = referenced_files(manifest).into_iter().filter(|f| !dist.join(f).is_file()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "manifest.json names files that are not in {}:\n{}\n\
             Add them to extension/ (copied as is) or fix manifest.json at the repository root.",
            dist.display(),
            missing.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"{
        "$comment": "dropped",
        "manifest_version": 3,
        "name": "Cairn",
        "version": "0.0.1",
        "background": {"service_worker": "background.js", "type": "module"},
        "action": {"default_popup": "popup.html", "default_icon": {"16": "icons/16.png"}},
        "options_ui": {"page": "options.html"},
        "icons": {"16": "icons/16.png", "128": "icons/128.png"},
        "content_scripts": [{"matches": ["<all_urls>"], "js": ["content.js"], "css": ["cairn.css"]}],
        "web_accessible_resources": [{"resources": ["wasm/cairn_web.js", "wasm/*.wasm"], "matches": ["<all_urls>"]}]
    }"#;

    #[test]
    fn derive_drops_comments_and_sets_version() {
        let m = derive(SRC, Some("1.2.3")).unwrap();
        assert!(m.get("$comment").is_none());
        assert_eq!(m["version"], "1.2.3");
        assert_eq!(derive(SRC, None).unwrap()["version"], "0.0.1");
        assert!(derive("[1]", None).is_err());
        assert!(derive("{", None).is_err());
    }

    #[test]
    fn finds_every_referenced_file_but_wildcards() {
        let m = derive(SRC, None).unwrap();
        assert_eq!(
            referenced_files(&m),
            [
                "background.js",
                "cairn.css",
                "content.js",
                "icons/128.png",
                "icons/16.png",
                "options.html",
                "popup.html",
                "wasm/cairn_web.js"
            ]
        );
    }

    #[test]
    fn validate_names_missing_files() {
        let dir = std::env::temp_dir().join(format!("xtask-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("background.js"), "").unwrap();
        let m = derive(SRC, None).unwrap();
        let err = validate(&dir, &m).unwrap_err();
        assert!(err.contains("  - popup.html"), "{err}");
        assert!(!err.contains("background.js"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_workspace_version() {
        let toml = "[workspace]\nmembers = []\n\n[workspace.package]\nedition = \"2021\"\nversion = \"0.3.0\" # x\n\n[dependencies]\nversion = \"9\"\n";
        assert_eq!(workspace_version(toml).as_deref(), Some("0.3.0"));
        assert_eq!(workspace_version("[workspace.package]\nedition = \"2021\"\n[a]\nversion = \"1\"\n"), None);
    }
}
