//! End-to-end tests of `idgraph serve`'s HTTP APIs with a real client on 127.0.0.1.

mod common;
mod connections;
mod profile_api;
mod tracking;
mod wire;
