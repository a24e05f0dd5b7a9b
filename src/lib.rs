//! herald turns a folder of Markdown articles into RSS 2.0, Atom 1.0 and
//! JSON Feed 1.1 files. See ARCHITECTURE.md for the data flow.

pub mod app;
pub mod approve;
pub mod article;
pub mod auth;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diagnostic;
pub mod feed;
pub mod fsio;
pub mod init;
pub mod ledger;
pub mod lock;
pub mod monitor;
pub mod paths;
#[cfg(test)]
mod properties;
pub mod publish;
pub mod report;
pub mod schedule;
pub mod secret;
pub mod social;
pub mod units;
pub mod window;
