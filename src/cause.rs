//! An error and its causes as one line, for logs and the messages people
//! read (`last_error`, `/healthz`, the CLI). It sits at the bottom with
//! `clock` and `markup`, so every layer may say why something failed the
//! same way: the archive (`store`), webhooks and hubs (`push`, `websub`).

/// `e` and its causes, each after a colon: an error's own message often
/// hides why (reqwest's "error sending request" over the refused
/// connection).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
