//! What each primitive means, as plain functions that return the ops (and
//! rules) it takes: publish → its three rules, a macvlan → create, move,
//! bring up. No Rhai and no kernel here: the script layer converts values
//! and calls these; the session journals and applies what they return. So
//! every rule of meaning is unit-tested without root.

pub mod addressing;
pub mod firewall;
pub mod links;

/// A plan that cannot be made: the reason, for the caller to prefix with
/// the function's name.
pub type Plan<T> = std::result::Result<T, String>;
