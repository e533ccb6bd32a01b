//! The extension's own pages, in Yew: the toolbar popup, the side panel, the
//! Library and the options page.
//!
//! * [`state`]: each page's state as a `Reducible` plus the wording helpers,
//!   with no UI code, tested natively.
//! * `popup` / `panel` / `options`: components on top (wasm only), which talk to the
//!   background through `cairn_web::client` and never to the server directly;
//!   `widgets`: the design system's components with behaviour (note editor,
//!   rendered note, tag input, icons). The look is `extension/cairn.css`.
//!
//! **Architecture invariant:** the UI holds no token and writes no storage; it
//! asks the background (panel channel) for everything.

pub mod library_view;
pub mod state;
pub mod trail_view;
pub mod zip;

#[cfg(target_arch = "wasm32")]
mod communities;
#[cfg(target_arch = "wasm32")]
mod items;
#[cfg(target_arch = "wasm32")]
mod library;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod panel;
#[cfg(target_arch = "wasm32")]
mod popup;
#[cfg(target_arch = "wasm32")]
mod trail;
#[cfg(target_arch = "wasm32")]
mod widgets;

#[cfg(target_arch = "wasm32")]
mod entry {
    use wasm_bindgen::prelude::*;

    fn root() -> web_sys::Element {
        gloo_root().expect("the page has a #app element")
    }

    fn gloo_root() -> Option<web_sys::Element> {
        web_sys::window()?.document()?.get_element_by_id("app")
    }

    #[wasm_bindgen]
    pub fn start_popup() {
        yew::Renderer::<crate::popup::Popup>::with_root(root()).render();
    }

    #[wasm_bindgen]
    pub fn start_panel() {
        yew::Renderer::<crate::panel::Panel>::with_root(root()).render();
    }

    #[wasm_bindgen]
    pub fn start_library() {
        yew::Renderer::<crate::library::Library>::with_root(root()).render();
    }

    #[wasm_bindgen]
    pub fn start_options() {
        yew::Renderer::<crate::options::Options>::with_root(root()).render();
    }
}
