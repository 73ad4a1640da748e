//! Network collectors: what an endpoint named by the user answers, read with bounded time and
//! bounded memory. Only the endpoints given on the command line or in the inventory are contacted.
//!
//! Each probe is one module; [`conn`] holds what they share: connecting with a timeout, reading
//! under a per-read timeout and a per-endpoint deadline, and the reasons a peer fails, in words.

pub mod conn;
pub mod hello;
pub mod ssh;
pub mod starttls;
pub mod suites;
pub mod tls;

pub use conn::Limits;
