//! The extension APIs Cairn uses. All Promise-based (MV3).

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = getURL)]
    fn runtime_get_url(path: &str) -> String;
    #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = sendMessage, catch)]
    fn runtime_send_message(message: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = sendMessage, catch)]
    fn tabs_send_message(tab_id: i32, message: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = query, catch)]
    fn tabs_query(query: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "contextMenus"], js_name = removeAll, catch)]
    fn context_menus_remove_all() -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "contextMenus"], js_name = create, catch)]
    fn context_menus_create(props: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = getRegisteredContentScripts, catch)]
    fn scripting_get_registered() -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = registerContentScripts, catch)]
    fn scripting_register(scripts: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = unregisterContentScripts, catch)]
    fn scripting_unregister(filter: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "permissions"], js_name = contains, catch)]
    fn permissions_contains(perms: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "permissions"], js_name = request, catch)]
    fn permissions_request(perms: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "alarms"], js_name = create, catch)]
    fn alarms_create(name: &str, info: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = executeScript, catch)]
    fn scripting_execute(injection: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = insertCSS, catch)]
    fn scripting_insert_css(injection: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = create, catch)]
    fn tabs_create(props: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setBadgeText, catch)]
    fn action_set_badge_text(details: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setTitle, catch)]
    fn action_set_title(details: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "commands"], js_name = getAll, catch)]
    fn commands_get_all() -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = get, catch)]
    fn tabs_get(tab_id: i32) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["chrome", "runtime", "onMessage"], js_name = addListener)]
    fn runtime_on_message(listener: &js_sys::Function);
    #[wasm_bindgen(js_namespace = ["chrome", "tabs", "onActivated"], js_name = addListener)]
    fn tabs_on_activated(listener: &js_sys::Function);
    #[wasm_bindgen(js_namespace = ["chrome", "tabs", "onUpdated"], js_name = addListener)]
    fn tabs_on_updated(listener: &js_sys::Function);
    #[wasm_bindgen(js_namespace = ["chrome", "sidePanel"], js_name = open, catch)]
    fn side_panel_open(options: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
}

/// An extension API call failed; the message is the browser's.
#[derive(Debug, Clone)]
pub struct ChromeError(pub String);

impl std::fmt::Display for ChromeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(e: JsValue) -> ChromeError {
    ChromeError(
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| format!("{e:?}")),
    )
}

async fn wait(p: Result<Promise, JsValue>) -> Result<JsValue, ChromeError> {
    JsFuture::from(p.map_err(err)?).await.map_err(err)
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

fn str_array<'a>(items: impl IntoIterator<Item = &'a String>) -> JsValue {
    items.into_iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

/// `chrome.runtime.id`, read from the extension's base URL (`chrome-extension://ID/`).
pub fn extension_id() -> String {
    let base = runtime_get_url("");
    base.split("://").nth(1).unwrap_or("").trim_end_matches('/').to_string()
}

pub fn extension_url(path: &str) -> String {
    runtime_get_url(path)
}

/// Sends a message to the background and waits for its reply.
pub async fn send_to_background(message: &JsValue) -> Result<JsValue, ChromeError> {
    wait(runtime_send_message(message)).await
}

/// Sends a message to the content script of a tab.
pub async fn send_to_tab(tab_id: i32, message: &JsValue) -> Result<JsValue, ChromeError> {
    wait(tabs_send_message(tab_id, message)).await
}

/// The URL of the active tab of the last focused window, when Cairn may see it.
pub async fn active_tab_url() -> Option<String> {
    let tabs = wait(tabs_query(&obj(&[("active", true.into()), ("lastFocusedWindow", true.into())]))).await.ok()?;
    let first = Array::from(&tabs).get(0);
    Reflect::get(&first, &"url".into()).ok()?.as_string()
}

/// `(tab id, url)` of every tab whose URL Cairn may see (tabs on allowed sites).
pub async fn visible_tabs() -> Vec<(i32, String)> {
    let Ok(tabs) = wait(tabs_query(&Object::new().into())).await else { return Vec::new() };
    Array::from(&tabs)
        .iter()
        .filter_map(|t| {
            let id = Reflect::get(&t, &"id".into()).ok()?.as_f64()? as i32;
            let url = Reflect::get(&t, &"url".into()).ok()?.as_string()?;
            Some((id, url))
        })
        .collect()
}

/// `scheme://host:port/*` for an origin.
pub fn origin_pattern(origin: &str) -> String {
    format!("{origin}/*")
}

/// Makes the context-menu entry appear on allowed sites only.
pub async fn install_context_menu(allowed_origins: &[String]) -> Result<(), ChromeError> {
    wait(context_menus_remove_all()).await?;
    if allowed_origins.is_empty() {
        return Ok(());
    }
    let patterns: Vec<String> = allowed_origins.iter().map(|o| origin_pattern(o)).collect();
    let entries = [
        ("cairn-highlight", "Highlight with Cairn", "selection"),
        ("cairn-clip-selection", "Clip selection with Cairn", "selection"),
        ("cairn-clip-article", "Clip this page with Cairn", "page"),
    ];
    for (id, title, context) in entries {
        context_menus_create(&obj(&[
            ("id", id.into()),
            ("title", title.into()),
            ("contexts", str_array(&vec![context.to_string()])),
            ("documentUrlPatterns", str_array(&patterns)),
        ]))
        .map_err(err)?;
    }
    Ok(())
}

const CONTENT_SCRIPT_ID: &str = "cairn-content";

/// Runs the content script on exactly the allowed sites (and nowhere else).
pub async fn register_content_script(allowed_origins: &[String]) -> Result<(), ChromeError> {
    let registered = wait(scripting_get_registered()).await?;
    if Array::from(&registered).length() > 0 {
        wait(scripting_unregister(&obj(&[("ids", str_array(&vec![CONTENT_SCRIPT_ID.to_string()]))]))).await?;
    }
    if allowed_origins.is_empty() {
        return Ok(());
    }
    let patterns: Vec<String> = allowed_origins.iter().map(|o| origin_pattern(o)).collect();
    let script = obj(&[
        ("id", CONTENT_SCRIPT_ID.into()),
        ("matches", str_array(&patterns)),
        ("js", str_array(&vec!["content.js".to_string()])),
        ("css", str_array(&vec!["highlights.css".to_string()])),
        ("runAt", "document_idle".into()),
        ("persistAcrossSessions", true.into()),
    ]);
    wait(scripting_register(&Array::of1(&script).into())).await?;
    Ok(())
}

/// Whether the browser has granted Cairn access to an origin.
pub async fn has_host_permission(origin: &str) -> bool {
    let perms = obj(&[("origins", str_array(&vec![origin_pattern(origin)]))]);
    wait(permissions_contains(&perms)).await.map(|v| v.is_truthy()).unwrap_or(false)
}

/// Asks the user to grant access to an origin. Must run in a user gesture on an extension page.
pub async fn request_host_permission(origin: &str) -> Result<bool, ChromeError> {
    let perms = obj(&[("origins", str_array(&vec![origin_pattern(origin)]))]);
    wait(permissions_request(&perms)).await.map(|v| v.is_truthy())
}

/// A repeating alarm: MV3 workers stop when idle, alarms wake them.
pub async fn ensure_periodic_alarm(name: &str, minutes: f64) -> Result<(), ChromeError> {
    wait(alarms_create(name, &obj(&[("periodInMinutes", minutes.into())]))).await.map(|_| ())
}

/// Starts Cairn in a tab that was already open when its site was allowed, so the
/// user does not have to reload it (the registered content script only runs on
/// pages loaded after registration). The script guards against running twice.
pub async fn start_in_tab(tab_id: i32) -> Result<(), ChromeError> {
    let target = obj(&[("tabId", tab_id.into())]);
    wait(scripting_insert_css(&obj(&[
        ("target", target.clone()),
        ("files", str_array(&vec!["highlights.css".to_string()])),
    ])))
    .await?;
    wait(scripting_execute(&obj(&[("target", target), ("files", str_array(&vec!["content.js".to_string()]))]))).await?;
    Ok(())
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

/// Opens a URL in a new tab (e.g. the browser's shortcut settings, which a link cannot open).
pub async fn open_tab(url: &str) -> Result<(), ChromeError> {
    wait(tabs_create(&obj(&[("url", url.into())]))).await.map(|_| ())
}

/// Marks the toolbar button of one tab with a short badge and a tooltip (empty text clears the badge).
pub async fn mark_tab(tab_id: i32, badge: &str, title: &str) -> Result<(), ChromeError> {
    wait(action_set_badge_text(&obj(&[("tabId", tab_id.into()), ("text", badge.into())]))).await?;
    wait(action_set_title(&obj(&[("tabId", tab_id.into()), ("title", title.into())]))).await?;
    Ok(())
}

/// The extension's keyboard commands as the user has set them: `(name, shortcut)`,
/// the shortcut empty when none is set (the user may change or clear them).
pub async fn shortcuts() -> Vec<(String, String)> {
    let Ok(all) = wait(commands_get_all()).await else { return Vec::new() };
    Array::from(&all)
        .iter()
        .filter_map(|c| {
            let name = Reflect::get(&c, &"name".into()).ok()?.as_string()?;
            let key = Reflect::get(&c, &"shortcut".into()).ok()?.as_string().unwrap_or_default();
            Some((name, key))
        })
        .collect()
}

/// `(id, url)` of the active tab of the window this page is in (the side panel's
/// window), when Cairn may see its URL.
pub async fn active_tab_here() -> Option<(i32, String)> {
    let tabs = wait(tabs_query(&obj(&[("active", true.into()), ("currentWindow", true.into())]))).await.ok()?;
    let first = Array::from(&tabs).get(0);
    let id = Reflect::get(&first, &"id".into()).ok()?.as_f64()? as i32;
    let url = Reflect::get(&first, &"url".into()).ok()?.as_string().unwrap_or_default();
    Some((id, url))
}

/// The URL of a tab, when Cairn may see it.
pub async fn tab_url(tab_id: i32) -> Option<String> {
    let tab = wait(tabs_get(tab_id)).await.ok()?;
    Reflect::get(&tab, &"url".into()).ok()?.as_string()
}

/// Tells every open extension page (the side panel, a popup) something happened;
/// nobody listening is not an error.
pub fn broadcast(message: &JsValue) {
    if let Ok(promise) = runtime_send_message(message) {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Calls `on_message` with every message the background broadcasts to the
/// extension's pages. The listener never answers, so requests meant for the
/// background are not taken; messages from a tab (a content script, which any
/// page can drive) are ignored.
pub fn listen_for_broadcasts(on_message: impl Fn(JsValue) + 'static) {
    let listener = Closure::<dyn Fn(JsValue, JsValue)>::new(move |message, sender: JsValue| {
        let from_tab = Reflect::get(&sender, &"tab".into()).is_ok_and(|t| !t.is_undefined());
        if !from_tab {
            on_message(message);
        }
    });
    runtime_on_message(listener.as_ref().unchecked_ref());
    listener.forget(); // lives as long as the page
}

/// Calls `on_change` when the user switches tabs or a tab loads a new page.
pub fn listen_for_tab_changes(on_change: impl Fn() + 'static) {
    let on_change = std::rc::Rc::new(on_change);
    let activated = {
        let on_change = on_change.clone();
        Closure::<dyn Fn(JsValue)>::new(move |_| on_change())
    };
    let updated = Closure::<dyn Fn(JsValue, JsValue)>::new(move |_id, change: JsValue| {
        let loaded =
            Reflect::get(&change, &"status".into()).ok().and_then(|s| s.as_string()).as_deref() == Some("complete");
        let moved = Reflect::get(&change, &"url".into()).is_ok_and(|u| u.is_string());
        if loaded || moved {
            on_change();
        }
    });
    tabs_on_activated(activated.as_ref().unchecked_ref());
    tabs_on_updated(updated.as_ref().unchecked_ref());
    activated.forget();
    updated.forget();
}

/// Opens Cairn's side panel in this window. Must be called while a click is
/// being handled (the browser allows it only in response to a user gesture).
pub fn open_side_panel() -> Result<(), ChromeError> {
    const WINDOW_ID_CURRENT: i32 = -2;
    let promise = side_panel_open(&obj(&[("windowId", WINDOW_ID_CURRENT.into())])).map_err(err)?;
    wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(promise).await;
    });
    Ok(())
}

/// The start of the user's day (local midnight), in unix ms: the review's steps and the
/// trail's days are whole days where the user lives.
pub fn local_day_start_ms() -> i64 {
    let d = js_sys::Date::new_0();
    d.set_hours(0);
    d.set_minutes(0);
    d.set_seconds(0);
    d.set_milliseconds(0);
    d.get_time() as i64
}
