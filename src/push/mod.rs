//! Push: telling others about new items as they are archived.
//!
//! `alerts` is the sender that delivers the outbox the store fills at
//! ingest (`store::alerts`) to webhooks; `message` composes each format;
//! `guard` keeps webhooks off loopback, private and link-local addresses.
//! (WebSub, issue 18's second half, will live here too.)

pub mod alerts;
pub mod guard;
pub mod message;
