//! Documents: receiving a signed package, checking it in the order of
//! DESIGN §3.4, routing it, and the delivery lifecycle of §4.

pub mod intake;
pub mod lifecycle;
pub mod receipt;
pub mod submit;
