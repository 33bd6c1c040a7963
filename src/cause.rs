//! An error and its causes as one line, for logs and the messages people
//! read (`last_error`, `/healthz`, the CLI). It sits at the bottom with
//! `clock` and `markup`, so every layer may say why something failed the
//! same way: the archive (`store`), webhooks and hubs (`push`, `websub`).

/// `e` and its causes, each after a colon: an error's own message often
/// hides why (reqwest's "error sending request" over the refused
/// connection). A cause the line already ends with is not said again:
/// some errors, reqwest's among them, end their own message with their
/// cause. Only at the end: a short cause ("timed out", "closed") found
/// earlier in the line, inside an address or a title it carries, is still
/// a cause of its own.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let said = s.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain;

    /// An error that says `message`, caused by `source`.
    #[derive(Debug)]
    struct Failed {
        message: String,
        source: Option<Box<Failed>>,
    }

    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl std::error::Error for Failed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source.as_deref().map(|s| s as _)
        }
    }

    fn failed(message: &str, source: Option<Failed>) -> Failed {
        Failed {
            message: message.into(),
            source: source.map(Box::new),
        }
    }

    /// A message that repeats its cause (as reqwest's may) does not get
    /// it said twice; a cause it does not hold, beneath it, still comes.
    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        let refused = failed("connection refused", Some(failed("os error 111", None)));
        let sending = failed("error sending request: connection refused", Some(refused));
        assert_eq!(
            chain(&sending),
            "error sending request: connection refused: os error 111"
        );
        let plain = failed("failed to commit", Some(failed("disk I/O error", None)));
        assert_eq!(chain(&plain), "failed to commit: disk I/O error");
        // The same words earlier in the line are not the cause said.
        let timeout = failed("timed out", None);
        let fetch = failed("fetch of http://a.example/timed out failed", Some(timeout));
        assert_eq!(
            chain(&fetch),
            "fetch of http://a.example/timed out failed: timed out"
        );
    }
}
