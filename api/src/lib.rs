//! The marketplace API server: a GraphQL API over axum, SeaORM and async-graphql.
//!
//! A request flows one way: axum handler (`app`) → resolver (`graphql`, parses input and checks
//! the viewer) → service (`services`, transaction + domain rule) → database and adapters.
//! `domain` holds the pure rules and does no I/O.
pub mod answers;
pub mod app;
pub mod auth;
pub mod bulk_seed;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod faults;
pub mod files_http;
pub mod graphiql;
pub mod graphql;
pub mod ids;
pub mod jobs;
pub mod observability;
pub mod pagination;
pub mod payments;
pub mod persisted;
pub mod seed;
pub mod serve;
pub mod services;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod throttle;
pub mod web;
pub mod ws;

pub use app::Application;
pub use config::Settings;
