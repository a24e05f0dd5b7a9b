//! Integration tests: the real `herald` binary on temporary sites.

mod bad_input;
mod cli;
mod delivery;
mod example;
mod feeds;
mod hostile;
mod posting;
mod scheduler;
mod secrets;
mod support;
mod websub;
