//! The explorer: a terminal UI over one space's profiles.
//!
//! Shape: [`state`] is plain data; [`update::update`] turns messages (key actions, typed
//! text, worker replies) into a new state plus [`update::Effect`]s, with no I/O; [`views`]
//! draw a `&State`; [`app`] runs the loop over any ratatui backend; [`worker`] owns the
//! store on its own thread and the search engine runs on another.

pub mod action;
pub mod keymap;
pub mod state;
pub mod text;
pub mod theme;
pub mod update;
pub mod views;
pub mod worker;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
pub(crate) mod harness;
