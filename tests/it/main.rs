//! Integration tests: the real `herald` binary on temporary sites.

mod auth;
mod bad_input;
mod cli;
mod delivery;
mod edits;
mod example;
mod feeds;
mod guarantees;
mod hostile;
mod linkedin;
mod matrix;
mod misskey;
mod mistakes;
mod ntfy;
mod pds;
mod platforms;
mod posting;
mod retries;
mod scheduler;
mod secrets;
mod sessions;
mod support;
mod threads;
mod websub;
mod x;
mod zulip;
