//! One integration-test binary: every module starts the real server on a free port with its own
//! database (SQLite by default; PostgreSQL when TEST_DATABASE_URL is set) and speaks GraphQL
//! over HTTP and websockets.
mod accounts;
mod chargebacks;
mod disputes;
mod files;
mod helpers;
mod http;
mod introspection;
mod invoicing;
mod jobs;
mod limits;
mod listings;
mod messaging;
mod migrations;
mod observability;
mod orders;
mod persisted;
mod realtime;
mod reviews;
mod schema;
mod seed;
mod sellers;
mod stripe_connect;
mod stripe_double;
mod throttling;
mod web;
mod websocket;
mod ws_client;
