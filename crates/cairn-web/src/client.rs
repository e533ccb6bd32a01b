//! How the extension's own pages talk to the background: one typed request,
//! one typed reply, errors as text ready to show.

use cairn_protocol::messages::{PanelReply, PanelRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::chrome;

#[derive(Deserialize)]
struct Envelope<T> {
    ok: bool,
    #[serde(default = "Option::default")]
    value: Option<T>,
    #[serde(default)]
    error: Option<EnvelopeError>,
}

#[derive(Deserialize)]
struct EnvelopeError {
    message: String,
}

/// Sends a panel request and returns the reply, or a message for the user.
pub async fn ask(request: &PanelRequest) -> Result<PanelReply, String> {
    ask_for(request).await
}

/// Sends a panel request whose answer is not a [`PanelReply`] (the Library's
/// listing: `cairn_sync::LibraryListing`).
pub async fn ask_for<T: DeserializeOwned>(request: &PanelRequest) -> Result<T, String> {
    let raw = chrome::send_to_background(&crate::to_js(request))
        .await
        .map_err(|e| format!("Cairn's background is not answering ({e}); reopen this page"))?;
    let envelope: Envelope<T> =
        serde_wasm_bindgen::from_value(raw).map_err(|e| format!("unreadable reply from the background: {e}"))?;
    match (envelope.ok, envelope.value, envelope.error) {
        (true, Some(v), _) => Ok(v),
        (_, _, Some(e)) => Err(e.message),
        _ => Err("empty reply from the background".into()),
    }
}
