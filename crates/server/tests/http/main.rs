//! Black-box tests of the HTTP API: each starts a real `concord` on a
//! loopback port and talks to it over HTTP, as a client library would.

mod account_security;
mod accounts;
mod admin;
mod attachments;
mod audit;
mod backup;
mod commands;
mod connections;
mod datadir;
mod durability;
mod emojis;
mod errors;
mod fuzz;
mod guilds;
mod images;
mod interactions;
mod interactions_endpoint;
mod invites;
mod mentions;
mod messages;
mod moderation;
mod observability;
mod openapi;
mod permission_matrix;
mod permissions;
mod polls;
mod private;
mod push;
mod ratelimits;
mod search;
mod threads;
mod voice;
mod webhooks;

use concord_testkit::TestServer;

/// Every reply in this suite is checked against the OpenAPI document.
fn check_replies() {
    concord_testkit::openapi::check_replies();
}

/// A fresh server with rate limits off: one process, or a cluster taken
/// node by node when `CONCORD_TEST_NODES` is above 1.
fn server() -> TestServer {
    check_replies();
    TestServer::start(env!("CARGO_BIN_EXE_concord"), &[])
}

fn server_with(args: &[&str]) -> TestServer {
    check_replies();
    TestServer::start(env!("CARGO_BIN_EXE_concord"), args)
}

/// One process, always: for tests of its data directory, files, output,
/// restarts and signals.
fn single_server() -> TestServer {
    check_replies();
    TestServer::start_single(env!("CARGO_BIN_EXE_concord"), &[])
}

fn single_server_with(args: &[&str]) -> TestServer {
    check_replies();
    TestServer::start_single(env!("CARGO_BIN_EXE_concord"), args)
}
