//! The options page: server, sign-in, community, allowed sites.

use cairn_protocol::messages::{PanelReply, PanelRequest};
use cairn_web::{chrome, client};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::communities::Communities;
use crate::state::{connection_label, OptionsAction, OptionsState, Tone};

fn input_value(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
}

/// Runs a panel request and records the outcome with a success message.
fn run(state: &UseReducerHandle<OptionsState>, request: PanelRequest, success: &'static str) {
    let state = state.clone();
    state.dispatch(OptionsAction::Working);
    wasm_bindgen_futures::spawn_local(async move {
        match client::ask(&request).await {
            Ok(PanelReply::Status(s)) => state.dispatch(OptionsAction::Succeeded(s, success.into())),
            Ok(_) => state.dispatch(OptionsAction::Failed("unexpected reply from the background".into())),
            Err(e) => state.dispatch(OptionsAction::Failed(e)),
        }
    });
}

#[function_component(Options)]
pub fn options() -> Html {
    let state = use_reducer(OptionsState::default);
    let server = use_node_ref();
    let username = use_node_ref();
    let password = use_node_ref();
    let token = use_node_ref();
    let site = use_node_ref();
    let current_password = use_node_ref();
    let new_password = use_node_ref();

    {
        let state = state.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match client::ask(&PanelRequest::Status {}).await {
                    Ok(PanelReply::Status(s)) => state.dispatch(OptionsAction::StatusLoaded(s)),
                    Ok(_) => {}
                    Err(e) => state.dispatch(OptionsAction::Failed(e)),
                }
            });
        });
    }

    // Asks the browser for access to the server's origin (needs the click's user
    // gesture), then hands over to the background.
    let with_server_permission =
        |state: UseReducerHandle<OptionsState>, server_url: String, request: PanelRequest, success: &'static str| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(origin) = crate::state::page_origin(&server_url) {
                    if let Ok(false) = chrome::request_host_permission(&origin).await {
                        state.dispatch(OptionsAction::Failed(format!(
                            "Cairn needs access to {origin} to reach the server; allow it when the browser asks"
                        )));
                        return;
                    }
                } else {
                    state.dispatch(OptionsAction::Failed(format!(
                        "{server_url:?} is not a server URL; enter one like https://cairn.example.com"
                    )));
                    return;
                }
                run(&state, request, success);
            });
        };

    let sign_in = {
        let (state, server, username, password) = (state.clone(), server.clone(), username.clone(), password.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let server_url = input_value(&server);
            let request = PanelRequest::SignIn {
                server_url: server_url.clone(),
                username: input_value(&username),
                password: input_value(&password),
            };
            with_server_permission(state.clone(), server_url, request, "Signed in");
        })
    };
    let connect = {
        let (state, server, token) = (state.clone(), server.clone(), token.clone());
        Callback::from(move |_| {
            let server_url = input_value(&server);
            let request = PanelRequest::Connect { server_url: server_url.clone(), token: input_value(&token) };
            with_server_permission(state.clone(), server_url, request, "Connected");
        })
    };
    let change_password = {
        let (state, current, new) = (state.clone(), current_password.clone(), new_password.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let request = PanelRequest::ChangePassword {
                current_password: input_value(&current),
                new_password: input_value(&new),
            };
            // Passwords do not stay on the page once sent.
            for field in [&current, &new] {
                if let Some(input) = field.cast::<HtmlInputElement>() {
                    input.set_value("");
                }
            }
            run(&state, request, "Password changed; your other devices and tokens are signed out");
        })
    };
    let sign_out = {
        let state = state.clone();
        Callback::from(move |_| {
            run(&state, PanelRequest::SignOut {}, "Signed out: what you make now stays in this browser")
        })
    };
    let choose = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let value =
                e.target().and_then(|t| t.dyn_into::<HtmlSelectElement>().ok()).map(|s| s.value()).unwrap_or_default();
            let community = (!value.is_empty()).then_some(value);
            run(
                &state,
                PanelRequest::ChooseCommunity { community },
                "Saved: new highlights and clips go to the audience chosen here",
            );
        })
    };
    let allow = {
        let (state, site) = (state.clone(), site.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let input = input_value(&site);
            let Some(origin) = crate::state::page_origin(&input) else {
                state.dispatch(OptionsAction::Failed(format!(
                    "{input:?} is not a site; enter one like https://wiki.example.com"
                )));
                return;
            };
            let state = state.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match chrome::request_host_permission(&origin).await {
                    Ok(true) => run(
                        &state,
                        PanelRequest::AllowSite { origin },
                        "Site allowed: Cairn runs there now, in tabs already open too",
                    ),
                    Ok(false) => {
                        state.dispatch(OptionsAction::Failed(format!("Cairn was not given access to {origin}")))
                    }
                    Err(e) => state.dispatch(OptionsAction::Failed(e.to_string())),
                }
            });
        })
    };

    let status = state.status.clone().unwrap_or_default();
    let (label, tone) = match status.user {
        // The popup's wording sends people here; here, the form is right below.
        None => (
            "Not connected: what you highlight stays in this browser until you sign in below".to_string(),
            Tone::Neutral,
        ),
        Some(_) => connection_label(&status),
    };
    let signed_in = status.user.is_some();
    let banner_class = match (state.status.is_some(), tone) {
        (false, _) => "banner",
        (true, t) => match t {
            Tone::Good => "banner good",
            Tone::Neutral => "banner",
            Tone::Bad => "banner bad",
        },
    };
    // The shortcuts as the user has them (they may have changed or cleared them).
    let shortcuts = use_state(Vec::<(String, String)>::new);
    {
        let shortcuts = shortcuts.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move { shortcuts.set(chrome::shortcuts().await) });
        });
    }
    let open_shortcuts = Callback::from(|e: MouseEvent| {
        e.prevent_default();
        wasm_bindgen_futures::spawn_local(async {
            let _ = chrome::open_tab("chrome://extensions/shortcuts").await;
        });
    });

    html! {
        <main class="options">
            <div class="page-title"><img src="icons/cairn.svg" alt="" /><h1>{ "Cairn options" }</h1></div>
            // A failure to sign in replaces the "not connected" line rather than stacking under it.
            if signed_in || !matches!(state.notice, Some(Err(_))) {
                <div class={banner_class} role="status"><span class="grow" data-testid="connection">{ label }</span></div>
            }
            if let Some(n) = &state.notice {
                { match n {
                    Ok(t) => html! { <div class="banner good" data-testid="notice" role="status"><span class="grow">{ t }</span></div> },
                    Err(t) => html! { <div class="banner bad" data-testid="notice" role="alert"><span class="grow">{ t }</span></div> },
                } }
            }

            <section class="card" aria-labelledby="server-heading">
                <h2 id="server-heading">{ "Your Cairn server" }</h2>
                if state.status.is_none() {
                    // The form waits for the stored settings: filled in before they arrive,
                    // what the user typed would be replaced by them.
                    <p class="hint" aria-busy="true">{ "Loading…" }</p>
                } else if signed_in {
                    <p class="hint" data-testid="signed-in">{ format!("Signed in as {} on {}", status.user.as_ref().map(|u| u.display_name.clone()).unwrap_or_default(), status.server_url.clone().unwrap_or_default()) }</p>
                    <label class="field">
                        <span>{ "Share new highlights and clips with" }</span>
                        <select onchange={choose} data-testid="community">
                            <option value="" selected={status.community.is_none()}>{ "Nobody: keep them private" }</option>
                            { for status.communities.iter().map(|c| html! {
                                <option value={c.id.clone()} selected={status.community.as_deref() == Some(c.id.as_str())}>{ &c.name }</option>
                            }) }
                        </select>
                        <span class="help">{ "Members of the community see them on the same page. You can keep any item private." }</span>
                    </label>
                    <div class="row">
                        <button class="btn" onclick={sign_out} disabled={state.busy} data-testid="sign-out">{ "Sign out" }</button>
                    </div>
                    <details>
                        <summary>{ "Change password" }</summary>
                        <form onsubmit={change_password} class="form-grid">
                            <label class="field"><span>{ "Current password" }</span><input ref={current_password} data-testid="current-password" type="password" autocomplete="current-password" required=true /></label>
                            <label class="field"><span>{ "New password" }</span><input ref={new_password} data-testid="new-password" type="password" autocomplete="new-password" required=true minlength="8" />
                                <span class="help">{ "At least 8 characters. Your other devices and tokens are signed out." }</span></label>
                            <div class="wide"><button type="submit" class="btn primary" disabled={state.busy} data-testid="change-password">{ "Change password" }</button></div>
                        </form>
                    </details>
                } else {
                    <p class="hint">{ "Sign in to share highlights with your communities and keep them on every device. Until then they stay in this browser." }</p>
                    <form onsubmit={sign_in} class="form-grid">
                        <label class="field wide"><span>{ "Server URL" }</span><input ref={server} data-testid="server-url" type="url" required=true placeholder="https://cairn.example.com" value={status.server_url.clone().unwrap_or_default()} /></label>
                        <label class="field"><span>{ "Username" }</span><input ref={username} data-testid="username" autocomplete="username" required=true /></label>
                        <label class="field"><span>{ "Password" }</span><input ref={password} data-testid="password" type="password" autocomplete="current-password" required=true /></label>
                        <div class="wide"><button type="submit" class="btn primary" disabled={state.busy} data-testid="sign-in">{ if state.busy { "Signing in…" } else { "Sign in" } }</button></div>
                    </form>
                    <details>
                        <summary>{ "Use an API token instead" }</summary>
                        <div class="inline-form">
                            <label class="visually-hidden" for="token">{ "API token" }</label>
                            <input id="token" ref={token} data-testid="token" type="password" placeholder="Paste a token from cairn-server token issue" />
                            <button class="btn" onclick={connect} disabled={state.busy} data-testid="connect">{ "Connect" }</button>
                        </div>
                    </details>
                }
            </section>

            if signed_in {
                <Communities status={status.clone()} on_status={{
                    let state = state.clone();
                    Callback::from(move |s| state.dispatch(OptionsAction::StatusLoaded(s)))
                }} />
            }

            <section class="card" aria-labelledby="sites-heading">
                <h2 id="sites-heading">{ "Sites where Cairn runs" }</h2>
                <p class="hint">{ "Everywhere else Cairn does nothing and sends nothing, not even the address of the page." }</p>
                <ul class="sites" data-testid="allowed-sites">
                    if status.allowed_sites.is_empty() {
                        <li class="none">{ "No sites yet: add the first one below, or choose Allow here in Cairn's popup on the site." }</li>
                    }
                    { for status.allowed_sites.iter().map(|o| {
                        let state = state.clone();
                        let origin = o.clone();
                        let remove = Callback::from(move |_| run(&state, PanelRequest::DisallowSite { origin: origin.clone() }, "Site removed: Cairn stops there on the next page load"));
                        html! { <li>{ o }<button class="btn ghost small danger" aria-label={format!("Remove {o}")} onclick={remove}>{ "Remove" }</button></li> }
                    }) }
                </ul>
                <form onsubmit={allow} class="inline-form">
                    <label class="visually-hidden" for="site">{ "Site to allow" }</label>
                    <input id="site" ref={site} data-testid="site" placeholder="https://wiki.example.com" />
                    <button type="submit" class="btn primary" disabled={state.busy} data-testid="allow">{ "Allow" }</button>
                </form>
            </section>

            <section class="card" aria-labelledby="keys-heading">
                <h2 id="keys-heading">{ "Keyboard shortcuts" }</h2>
                <p class="hint" data-testid="shortcut-list">{ "Highlight the selection: " }{ shortcut_view(&shortcuts, "highlight-selection") }
                    { " · Clip this page: " }{ shortcut_view(&shortcuts, "clip-page") }
                    { " · Side panel: " }{ shortcut_view(&shortcuts, "open-panel") }
                    { " · Library: " }{ shortcut_view(&shortcuts, "open-library") }</p>
                <p class="hint" style="margin-top: 6px">{ "Change them in the browser's " }
                    <a href="chrome://extensions/shortcuts" onclick={open_shortcuts} data-testid="shortcuts">{ "shortcut settings" }</a>{ "." }</p>
            </section>
        </main>
    }
}

fn shortcut_view(shortcuts: &[(String, String)], command: &str) -> Html {
    match shortcuts.iter().find(|(name, _)| name == command).map(|(_, key)| key.as_str()) {
        Some("") => html! { <em>{ "none set" }</em> },
        Some(key) => html! { <kbd>{ key }</kbd> },
        None => html! { <em>{ "…" }</em> },
    }
}
