//! Push: telling others about new items as they are archived.
//!
//! `alerts` is the sender that delivers the outbox the store fills at
//! ingest (`store::alerts`) to webhooks; `message` composes each format;
//! `guard` keeps webhooks off loopback, private and link-local addresses.
//!
//! WebSub's publishing side: `publish` notices when a served feed changed,
//! pings an external hub and pushes the new document to our own hub's
//! subscribers; `hub` takes subscription requests and verifies them.
//! `webhook` is what every outgoing POST shares: the guarded clients,
//! classifying answers, signatures and the retry schedule.
//! `unrecorded` keeps, for both senders, the outcomes the archive did not
//! take, so what they are about is not sent again meanwhile.

pub mod alerts;
pub mod guard;
pub mod hub;
pub mod message;
pub mod publish;
mod unrecorded;
pub mod webhook;
