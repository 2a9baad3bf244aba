//! The bindings tested from the foreign side: generated Python and Kotlin
//! bindings over the real library, driven by test programs in those
//! languages against a real server on 127.0.0.1:0; and a snapshot of the
//! generated Swift API (Swift cannot be compiled on this machine).

mod harness;
mod kotlin;
mod python;
mod swift;
