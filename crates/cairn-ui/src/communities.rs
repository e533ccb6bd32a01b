//! The Options page's communities: the ones the user belongs to, joined with an
//! invite code, made, left; owners and moderators see the members, change roles
//! and make, list and revoke invites. The server decides who may do what; this
//! shows each person only the controls their role has.

use cairn_protocol::api::{CommunityDetail, InviteInfo, Role};
use cairn_protocol::messages::{PanelReply, PanelRequest, StatusReport};
use cairn_web::client;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::items::now_ms;
use crate::state::relative_time;

#[derive(Properties, PartialEq)]
pub struct CommunitiesProps {
    pub status: StatusReport,
    /// The account's status after a change to its communities.
    pub on_status: Callback<StatusReport>,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Moderator => "moderator",
        Role::Member => "member",
    }
}

/// One opened community: its members and, for a manager, its invites.
#[derive(Clone, PartialEq)]
struct Opened {
    slug: String,
    detail: CommunityDetail,
    invites: Vec<InviteInfo>,
}

#[function_component(Communities)]
pub fn communities(p: &CommunitiesProps) -> Html {
    let notice = use_state(|| None::<(bool, String)>);
    let opened = use_state(|| None::<Opened>);
    let code = use_state(|| None::<(String, String)>);
    let name_ref = use_node_ref();
    let join_ref = use_node_ref();

    // Runs a request; a status answer updates the page, then `then` runs with the reply.
    let act = {
        let (notice, on_status) = (notice.clone(), p.on_status.clone());
        move |request: PanelRequest, done: Option<String>, then: Box<dyn FnOnce(PanelReply)>| {
            let (notice, on_status) = (notice.clone(), on_status.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match client::ask(&request).await {
                    Ok(reply) => {
                        if let PanelReply::Status(s) = &reply {
                            on_status.emit(s.clone());
                        }
                        if let Some(m) = done {
                            notice.set(Some((false, m)));
                        }
                        then(reply);
                    }
                    Err(e) => notice.set(Some((true, e))),
                }
            });
        }
    };
    let open = {
        let (act, opened) = (act.clone(), opened.clone());
        move |slug: String| {
            let opened = opened.clone();
            let request = PanelRequest::Community { community: slug.clone() };
            act(
                request,
                None,
                Box::new(move |reply| {
                    if let PanelReply::Community { detail, invites } = reply {
                        opened.set(Some(Opened { slug, detail, invites }));
                    }
                }),
            );
        }
    };
    let create = {
        let (act, name_ref) = (act.clone(), name_ref.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(input) = name_ref.cast::<HtmlInputElement>() else { return };
            let name = input.value();
            let done = format!("{} is made, and you are its owner: invite your teammates from its card", name.trim());
            input.set_value("");
            act(PanelRequest::CreateCommunity { name }, Some(done), Box::new(|_| ()));
        })
    };
    let join = {
        let (act, join_ref) = (act.clone(), join_ref.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(input) = join_ref.cast::<HtmlInputElement>() else { return };
            let code = input.value();
            input.set_value("");
            act(
                PanelRequest::JoinCommunity { code },
                Some("Joined: you now see what its members share".into()),
                Box::new(|_| ()),
            );
        })
    };

    let card = |c: &cairn_protocol::api::CommunityInfo| -> Html {
        let slug = c.id.clone();
        let manages = c.role != Role::Member;
        let is_open = opened.as_ref().is_some_and(|o| o.slug == slug);
        let toggle = {
            let (open, opened, slug) = (open.clone(), opened.clone(), slug.clone());
            Callback::from(move |_: MouseEvent| if is_open { opened.set(None) } else { open(slug.clone()) })
        };
        let leave = {
            let (act, slug, name) = (act.clone(), slug.clone(), c.name.clone());
            Callback::from(move |_: MouseEvent| {
                act(
                    PanelRequest::LeaveCommunity { community: slug.clone() },
                    Some(format!("You left {name}; what you shared there stays with its members until you delete it")),
                    Box::new(|_| ()),
                )
            })
        };
        let invite = {
            let (act, slug, code, open) = (act.clone(), slug.clone(), code.clone(), open.clone());
            Callback::from(move |_: MouseEvent| {
                let (code, open, slug2) = (code.clone(), open.clone(), slug.clone());
                act(
                    PanelRequest::Invite { community: slug.clone(), multi_use: false },
                    None,
                    Box::new(move |reply| {
                        if let PanelReply::Invited { code: c, expires_at } = reply {
                            code.set(Some((c, expires_at)));
                            open(slug2);
                        }
                    }),
                )
            })
        };
        let detail = opened.as_ref().filter(|o| o.slug == slug).map(|o| {
            let me = p.status.user.as_ref().map(|u| u.username.clone()).unwrap_or_default();
            html! {
                <div class="community-detail" data-testid="community-detail">
                    if let Some((c, expires)) = &*code {
                        <div class="banner good invite-code" role="status">
                            <span class="grow">{ "Invite code, for one person, shown once: " }<code data-testid="invite-code">{ c }</code>
                                <span class="help">{ format!(" · expires {}", &expires[..10.min(expires.len())]) }</span></span>
                            <button type="button" class="btn small" onclick={{
                                let c = c.clone();
                                Callback::from(move |_| {
                                    if let Some(w) = web_sys::window() {
                                        let _ = w.navigator().clipboard().write_text(&c);
                                    }
                                })
                            }}>{ "Copy" }</button>
                        </div>
                    }
                    <h3>{ format!("Members ({})", o.detail.members.len()) }</h3>
                    <ul class="sites members" data-testid="members">
                        { for o.detail.members.iter().map(|m| {
                            let username = m.user.username.clone();
                            let may_remove = username != me && (c.role == Role::Owner || (c.role == Role::Moderator && m.role == Role::Member));
                            let set_role = {
                                let (act, slug, username, open) = (act.clone(), slug.clone(), username.clone(), open.clone());
                                Callback::from(move |e: Event| {
                                    let role = match e.target_unchecked_into::<HtmlSelectElement>().value().as_str() {
                                        "owner" => Role::Owner,
                                        "moderator" => Role::Moderator,
                                        _ => Role::Member,
                                    };
                                    let (open, slug2) = (open.clone(), slug.clone());
                                    act(PanelRequest::SetMemberRole { community: slug.clone(), username: username.clone(), role },
                                        Some(format!("{username} is now a {}", role_name(role))), Box::new(move |_| open(slug2)));
                                })
                            };
                            let remove = {
                                let (act, slug, username, open) = (act.clone(), slug.clone(), username.clone(), open.clone());
                                Callback::from(move |_: MouseEvent| {
                                    let (open, slug2) = (open.clone(), slug.clone());
                                    act(PanelRequest::RemoveMember { community: slug.clone(), username: username.clone() },
                                        Some(format!("{username} is no longer a member")), Box::new(move |_| open(slug2)));
                                })
                            };
                            html! {
                                <li data-testid="member">
                                    <span class="grow">{ &m.user.display_name }<span class="help">{ format!(" @{}", m.user.username) }</span></span>
                                    if c.role == Role::Owner && username != me {
                                        <select onchange={set_role} aria-label={format!("Role of {}", m.user.display_name)} data-testid="member-role">
                                            { for [Role::Member, Role::Moderator, Role::Owner].into_iter().map(|r| html! {
                                                <option value={role_name(r)} selected={r == m.role}>{ role_name(r) }</option>
                                            }) }
                                        </select>
                                    } else {
                                        <span class="chip">{ role_name(m.role) }</span>
                                    }
                                    if may_remove {
                                        <button type="button" class="btn ghost small danger" onclick={remove}
                                            aria-label={format!("Remove {}", m.user.display_name)}>{ "Remove" }</button>
                                    }
                                </li>
                            }
                        }) }
                    </ul>
                    if manages {
                        <h3>{ "Open invites" }</h3>
                        if o.invites.is_empty() {
                            <p class="hint" data-testid="no-invites">{ "None: make one with Invite someone." }</p>
                        }
                        <ul class="sites" data-testid="invites">
                            { for o.invites.iter().map(|i| {
                                let revoke = {
                                    let (act, slug, id, open) = (act.clone(), slug.clone(), i.id.clone(), open.clone());
                                    Callback::from(move |_: MouseEvent| {
                                        let (open, slug2) = (open.clone(), slug.clone());
                                        act(PanelRequest::RevokeInvite { community: slug.clone(), id: id.clone() },
                                            Some("Invite revoked: its code lets nobody in".into()), Box::new(move |_| open(slug2)));
                                    })
                                };
                                html! {
                                    <li data-testid="open-invite">
                                        <span class="grow">{ format!("by {} · {}", i.created_by, relative_time(&i.created_at, now_ms())) }
                                            <span class="help">{ match i.uses_left { Some(1) => " · for one person".to_string(), Some(n) => format!(" · {n} joins left"), None => " · for anyone with the code".to_string() } }</span></span>
                                        <button type="button" class="btn ghost small danger" onclick={revoke} data-testid="revoke-invite">{ "Revoke" }</button>
                                    </li>
                                }
                            }) }
                        </ul>
                    }
                </div>
            }
        });
        html! {
            <li class="community" data-testid="my-community" data-slug={slug.clone()}>
                <div class="row">
                    <strong class="grow">{ &c.name }</strong>
                    <span class="chip" data-testid="my-role">{ role_name(c.role) }</span>
                    <button type="button" class="btn small" onclick={toggle} aria-expanded={is_open.to_string()} data-testid="community-members">
                        { if is_open { "Hide members" } else { "Members" } }</button>
                    if manages {
                        <button type="button" class="btn small primary" onclick={invite} data-testid="invite">{ "Invite someone" }</button>
                    }
                    <button type="button" class="btn ghost small danger" onclick={leave} data-testid="leave">{ "Leave" }</button>
                </div>
                { for detail }
            </li>
        }
    };

    html! {
        <section class="card" aria-labelledby="communities-heading" data-testid="communities">
            <h2 id="communities-heading">{ "Communities" }</h2>
            <p class="hint">{ "Teams and communities of practice you share with. Each item you keep can go to any of them, or stay private." }</p>
            if let Some((bad, text)) = &*notice {
                <div class={if *bad { "banner bad" } else { "banner good" }} role={if *bad { "alert" } else { "status" }} data-testid="community-notice">
                    <span class="grow">{ text }</span></div>
            }
            <ul class="communities">
                if p.status.communities.is_empty() {
                    <li class="hint">{ "You are in no community yet: join one with a code, or make one." }</li>
                }
                { for p.status.communities.iter().map(card) }
            </ul>
            <div class="form-grid">
                <form onsubmit={join} class="inline-form">
                    <label class="visually-hidden" for="invite-code">{ "Invite code" }</label>
                    <input id="invite-code" ref={join_ref} data-testid="join-code" placeholder="Invite code" autocomplete="off" required=true />
                    <button type="submit" class="btn" data-testid="join">{ "Join" }</button>
                </form>
                <form onsubmit={create} class="inline-form">
                    <label class="visually-hidden" for="community-name">{ "New community's name" }</label>
                    <input id="community-name" ref={name_ref} data-testid="community-name" placeholder="New community’s name" maxlength="100" required=true />
                    <button type="submit" class="btn" data-testid="create-community">{ "Create" }</button>
                </form>
            </div>
        </section>
    }
}
