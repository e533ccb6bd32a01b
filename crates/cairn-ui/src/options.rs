//! The options page: server, sign-in, community, allowed sites.

use cairn_protocol::messages::{PanelReply, PanelRequest};
use cairn_web::{chrome, client};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::state::{connection_label, OptionsAction, OptionsState};

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
        Callback::from(move |_| run(&state, PanelRequest::SignOut {}, "Signed out"))
    };
    let choose = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let value =
                e.target().and_then(|t| t.dyn_into::<HtmlSelectElement>().ok()).map(|s| s.value()).unwrap_or_default();
            let community = (!value.is_empty()).then_some(value);
            run(&state, PanelRequest::ChooseCommunity { community }, "Community saved");
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
                    Ok(true) => run(&state, PanelRequest::AllowSite { origin }, "Site allowed"),
                    Ok(false) => {
                        state.dispatch(OptionsAction::Failed(format!("Cairn was not given access to {origin}")))
                    }
                    Err(e) => state.dispatch(OptionsAction::Failed(e.to_string())),
                }
            });
        })
    };

    let status = state.status.clone().unwrap_or_default();
    let label = connection_label(&status).0;
    let signed_in = status.user.is_some();

    html! {
        <main class="options">
            <h1>{ "Cairn options" }</h1>
            <p class="connection" data-testid="connection">{ label }</p>
            if let Some(n) = &state.notice {
                { match n {
                    Ok(t) => html! { <p class="ok" data-testid="notice" role="status">{ t }</p> },
                    Err(t) => html! { <p class="error" data-testid="notice" role="alert">{ t }</p> },
                } }
            }

            <section>
                <h2>{ "Server" }</h2>
                if signed_in {
                    <p data-testid="signed-in">{ format!("Signed in to {} as {}", status.server_url.clone().unwrap_or_default(), status.user.as_ref().map(|u| u.display_name.clone()).unwrap_or_default()) }</p>
                    <label>{ "Share new highlights with " }
                        <select onchange={choose} data-testid="community">
                            <option value="" selected={status.community.is_none()}>{ "nobody (private)" }</option>
                            { for status.communities.iter().map(|c| html! {
                                <option value={c.id.clone()} selected={status.community.as_deref() == Some(c.id.as_str())}>{ &c.name }</option>
                            }) }
                        </select>
                    </label>
                    <p><button onclick={sign_out} disabled={state.busy} data-testid="sign-out">{ "Sign out" }</button></p>
                    <details>
                        <summary>{ "Change password" }</summary>
                        <form onsubmit={change_password}>
                            <label>{ "Current password " }<input ref={current_password} data-testid="current-password" type="password" autocomplete="current-password" required=true /></label>
                            <label>{ "New password " }<input ref={new_password} data-testid="new-password" type="password" autocomplete="new-password" required=true minlength="8" /></label>
                            <button type="submit" disabled={state.busy} data-testid="change-password">{ "Change password" }</button>
                        </form>
                    </details>
                } else {
                    <form onsubmit={sign_in}>
                        <label>{ "Server URL " }<input ref={server} data-testid="server-url" type="url" required=true placeholder="https://cairn.example.com" value={status.server_url.clone().unwrap_or_default()} /></label>
                        <label>{ "Username " }<input ref={username} data-testid="username" autocomplete="username" /></label>
                        <label>{ "Password " }<input ref={password} data-testid="password" type="password" autocomplete="current-password" /></label>
                        <button type="submit" disabled={state.busy} data-testid="sign-in">{ "Sign in" }</button>
                    </form>
                    <details>
                        <summary>{ "Use an API token instead" }</summary>
                        <label>{ "Token " }<input ref={token} data-testid="token" type="password" /></label>
                        <button onclick={connect} disabled={state.busy} data-testid="connect">{ "Connect" }</button>
                    </details>
                }
            </section>

            <section>
                <h2>{ "Sites where Cairn runs" }</h2>
                <p class="hint">{ "Everywhere else Cairn does nothing and sends nothing, not even the address of the page." }</p>
                <ul data-testid="allowed-sites">
                    { for status.allowed_sites.iter().map(|o| {
                        let state = state.clone();
                        let origin = o.clone();
                        let remove = Callback::from(move |_| run(&state, PanelRequest::DisallowSite { origin: origin.clone() }, "Site removed"));
                        html! { <li>{ o }{ " " }<button class="link" onclick={remove}>{ "Remove" }</button></li> }
                    }) }
                </ul>
                <form onsubmit={allow}>
                    <input ref={site} data-testid="site" placeholder="https://wiki.example.com" />
                    <button type="submit" disabled={state.busy} data-testid="allow">{ "Allow" }</button>
                </form>
            </section>
        </main>
    }
}
