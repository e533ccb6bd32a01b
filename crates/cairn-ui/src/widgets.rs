//! The design system's components that need behaviour (the rest is CSS classes
//! in `extension/cairn.css`): icons, the note editor, a rendered note, the tag input.

use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::state::{add_tag, note_counter, tag_suggestions};

#[derive(Properties, PartialEq)]
pub struct IconProps {
    pub name: &'static str,
}

/// A 24-unit stroke icon; decorative (the button around it carries the label).
#[function_component(Icon)]
pub fn icon(props: &IconProps) -> Html {
    let path = match props.name {
        "sync" => "M20 11a8 8 0 0 0-14.3-4.9L4 8M4 4v4h4M4 13a8 8 0 0 0 14.3 4.9L20 16m0 4v-4h-4",
        "search" => "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zm10 3-5.2-5.2",
        // Two books on a shelf: the Library.
        "library" => "M5 4h4v16H5zM11 4h4v16h-4zM16.5 5.5l3.8-1 3.2 14.4-3.8 1z",
        // A window with a pane on its right: the side panel.
        "panel" => "M4 5h16a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1zm10 0v14",
        "settings" => "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm7.4-3a7.4 7.4 0 0 0-.1-1.3l2-1.6-2-3.4-2.4 1a7.4 7.4 0 0 0-2.2-1.3L14.3 3h-4l-.4 2.4a7.4 7.4 0 0 0-2.2 1.3l-2.4-1-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.6l-2 1.6 2 3.4 2.4-1a7.4 7.4 0 0 0 2.2 1.3l.4 2.4h4l.4-2.4a7.4 7.4 0 0 0 2.2-1.3l2.4 1 2-3.4-2-1.6c.1-.4.1-.9.1-1.3z",
        _ => "M6 6l12 12M18 6L6 18",
    };
    html! {
        <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">
            <path d={path} />
        </svg>
    }
}

#[derive(Properties, PartialEq)]
pub struct NoteViewProps {
    /// Sanitized HTML made by the background with `cairn-note` (raw HTML off, allow-list).
    pub html: AttrValue,
    pub expanded: bool,
    pub on_toggle: Callback<MouseEvent>,
}

/// Notes longer than this (in characters of HTML) are clamped in lists, with "Show more".
const CLAMP_AFTER: usize = 280;

/// A rendered note, clamped in lists unless expanded.
#[function_component(NoteView)]
pub fn note_view(props: &NoteViewProps) -> Html {
    let long = props.html.len() > CLAMP_AFTER || props.html.matches("<p>").count() > 3;
    let clamped = long && !props.expanded;
    // The HTML was produced by the background's cairn-note from the note's Markdown,
    // never taken from the server or a page; the extension's CSP forbids inline
    // script as a second line of defence.
    let body = Html::from_html_unchecked(props.html.clone());
    html! {
        <>
            <div class={classes!("note", clamped.then_some("clamped"))} data-testid="note">{ body }</div>
            if long {
                <button class="link" style="font-size: 12px" onclick={props.on_toggle.clone()} aria-expanded={props.expanded.to_string()}>
                    { if props.expanded { "Show less" } else { "Show more" } }
                </button>
            }
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct NoteEditorProps {
    pub initial: String,
    pub on_save: Callback<String>,
    pub on_cancel: Callback<()>,
}

/// A note editor that grows with its text, counts near the limit and refuses
/// past it in place (what was typed stays). Ctrl+Enter saves, Escape cancels.
#[function_component(NoteEditor)]
pub fn note_editor(props: &NoteEditorProps) -> Html {
    let text = use_state(|| props.initial.clone());
    let area = use_node_ref();
    {
        let area = area.clone();
        use_effect_with((), move |_| {
            if let Some(a) = area.cast::<HtmlTextAreaElement>() {
                let _ = a.focus();
                let end = a.value().encode_utf16().count() as u32;
                let _ = a.set_selection_range(end, end);
            }
        });
    }
    let counter = note_counter(&text);
    let over = counter.as_ref().is_some_and(|c| c.1);
    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(a) = e.target().and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok()) {
                text.set(a.value());
            }
        })
    };
    let save = {
        let (text, on_save) = (text.clone(), props.on_save.clone());
        move || {
            if note_counter(&text).is_none_or(|c| !c.1) {
                on_save.emit((*text).clone());
            }
        }
    };
    let onkeydown = {
        let (save, cancel) = (save.clone(), props.on_cancel.clone());
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && (e.ctrl_key() || e.meta_key()) {
                e.prevent_default();
                save();
            } else if e.key() == "Escape" {
                e.prevent_default();
                cancel.emit(());
            }
        })
    };
    let onsubmit = Callback::from(move |e: SubmitEvent| {
        e.prevent_default();
        save();
    });
    let cancel = {
        let cancel = props.on_cancel.clone();
        Callback::from(move |_| cancel.emit(()))
    };
    html! {
        <form class="editor" {onsubmit}>
            <label class="visually-hidden" for="note-editor">{ "Note (Markdown)" }</label>
            <textarea id="note-editor" ref={area} name="note" data-testid="note-input" value={(*text).clone()} {oninput} {onkeydown}
                placeholder="Why it matters (Markdown). Ctrl+Enter saves." aria-invalid={over.to_string()} aria-describedby="note-counter" />
            <div class="row">
                <button type="submit" class="btn primary small" disabled={over} data-testid="save-note">{ "Save" }</button>
                <button type="button" class="btn ghost small" onclick={cancel}>{ "Cancel" }</button>
                <span id="note-counter" class={classes!("counter", over.then_some("over"))} style="margin-left: auto" aria-live="polite" data-testid="note-counter">
                    { counter.map(|c| c.0).unwrap_or_default() }
                </span>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
pub struct TagInputProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub tags: Vec<String>,
    /// Tags the user has used before, offered as they type.
    pub suggestions: Vec<String>,
    pub on_change: Callback<Vec<String>>,
}

/// Tags as chips: Enter, comma or semicolon makes a chip, spaces stay inside a
/// tag, Backspace in an empty field takes the last chip back.
#[function_component(TagInput)]
pub fn tag_input(props: &TagInputProps) -> Html {
    let typed = use_state(String::new);
    let list_id = format!("{}-suggestions", props.id);
    let commit = {
        let (tags, on_change) = (props.tags.clone(), props.on_change.clone());
        move |parts: &[&str]| {
            let mut next = tags.clone();
            for p in parts {
                add_tag(&mut next, p);
            }
            if next != tags {
                on_change.emit(next);
            }
        }
    };
    let oninput = {
        let (typed, commit) = (typed.clone(), commit.clone());
        Callback::from(move |e: InputEvent| {
            let Some(input) = e.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else { return };
            let value = input.value();
            let parts: Vec<&str> = value.split([',', ';']).collect();
            if parts.len() > 1 {
                // Everything before the last separator is finished.
                commit(&parts[..parts.len() - 1]);
                let rest = parts[parts.len() - 1].trim_start().to_string();
                input.set_value(&rest);
                typed.set(rest);
            } else {
                typed.set(value);
            }
        })
    };
    let onkeydown = {
        let (typed, commit, tags, on_change) =
            (typed.clone(), commit.clone(), props.tags.clone(), props.on_change.clone());
        Callback::from(move |e: KeyboardEvent| {
            let Some(input) = e.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) else { return };
            if e.key() == "Enter" && !input.value().trim().is_empty() {
                e.prevent_default();
                commit(&[input.value().as_str()]);
                input.set_value("");
                typed.set(String::new());
            } else if e.key() == "Backspace" && input.value().is_empty() && !tags.is_empty() {
                let mut next = tags.clone();
                next.pop();
                on_change.emit(next);
            }
        })
    };
    let suggestions = tag_suggestions(&props.suggestions, &props.tags, &typed, 8);
    html! {
        <div class="chip-input" data-testid="tag-input">
            { for props.tags.iter().map(|t| {
                let remove = {
                    let (tags, on_change, t) = (props.tags.clone(), props.on_change.clone(), t.clone());
                    Callback::from(move |_| on_change.emit(tags.iter().filter(|x| **x != t).cloned().collect()))
                };
                html! {
                    <span class="chip" data-testid="tag-chip">{ t }
                        <button type="button" aria-label={format!("Remove tag {t}")} onclick={remove}>{ "×" }</button>
                    </span>
                }
            }) }
            <input id={props.id.clone()} data-testid={props.id.clone()} aria-label={props.label.clone()} list={list_id.clone()}
                placeholder={if props.tags.is_empty() { "Tags: press Enter or comma after each" } else { "" }} {oninput} {onkeydown} autocomplete="off" />
            <datalist id={list_id}>{ for suggestions.iter().map(|s| html! { <option value={s.clone()} /> }) }</datalist>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct TagEditorProps {
    pub initial: Vec<String>,
    pub suggestions: Vec<String>,
    pub on_save: Callback<Vec<String>>,
    pub on_cancel: Callback<()>,
}

/// Tags of one item, changed as chips and saved together (what is still typed
/// in the field counts as a tag too).
#[function_component(TagEditor)]
pub fn tag_editor(props: &TagEditorProps) -> Html {
    let tags = use_state(|| props.initial.clone());
    let on_change = {
        let tags = tags.clone();
        Callback::from(move |next: Vec<String>| tags.set(next))
    };
    let onsubmit = {
        let (tags, on_save) = (tags.clone(), props.on_save.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let mut all = (*tags).clone();
            let typed = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("tag-editor"))
                .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
                .map(|i| i.value())
                .unwrap_or_default();
            for t in crate::state::parse_tags(&typed) {
                add_tag(&mut all, &t);
            }
            on_save.emit(all);
        })
    };
    let cancel = {
        let cancel = props.on_cancel.clone();
        Callback::from(move |_| cancel.emit(()))
    };
    html! {
        <form class="editor" {onsubmit} data-testid="tag-editor">
            <TagInput id="tag-editor" label="Tags" tags={(*tags).clone()} suggestions={props.suggestions.clone()} {on_change} />
            <div class="row">
                <button type="submit" class="btn primary small" data-testid="save-tags">{ "Save tags" }</button>
                <button type="button" class="btn ghost small" onclick={cancel}>{ "Cancel" }</button>
            </div>
        </form>
    }
}
