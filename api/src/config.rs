//! Settings, all from the environment (and a `.env` file when present), each with a default
//! that works on a laptop with nothing installed. `marketplace --help` lists them.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::SecretString;

/// The raw settings as clap reads them from flags and the environment.
#[derive(clap::Args, Clone)]
pub struct RawSettings {
    /// `development` or `production`; production requires JWT_SECRET and turns GraphiQL,
    /// introspection and field suggestions off.
    #[arg(long, env = "APP_ENV", default_value = "development", global = true)]
    pub app_env: AppEnv,
    /// Listen address; port 0 picks a free port and logs it.
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind_addr: String,
    /// Where the SQLite file, local files and generated dev secrets live.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default `sqlite://$DATA_DIR/marketplace.db?mode=rwc`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Base of links the server hands out; default `http://$BIND_ADDR`.
    #[arg(long, env = "PUBLIC_BASE_URL", global = true)]
    pub public_base_url: Option<String>,
    /// HS256 key for access tokens; generated into $DATA_DIR in development when unset.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Comma-separated emails that get the ADMIN role at registration and at start.
    #[arg(long, env = "ADMIN_EMAILS", default_value = "", global = true)]
    pub admin_emails: String,
    /// Platform commission in basis points (1500 = 15%).
    #[arg(
        long,
        env = "PLATFORM_COMMISSION_BPS",
        default_value_t = 1500,
        global = true
    )]
    pub platform_commission_bps: u32,
    /// Days after delivery before an order completes by itself.
    #[arg(long, env = "AUTO_COMPLETE_DAYS", default_value_t = 3, global = true)]
    pub auto_complete_days: u32,
    /// Stripe secret key; unset means simulated payments.
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true, global = true)]
    pub stripe_secret_key: Option<String>,
    /// Stripe publishable key (pk_…), handed to web clients for Stripe's Payment Element;
    /// used only with STRIPE_SECRET_KEY.
    #[arg(long, env = "STRIPE_PUBLISHABLE_KEY", global = true)]
    pub stripe_publishable_key: Option<String>,
    /// Signing secret of the platform webhook endpoint.
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub stripe_webhook_secret: Option<String>,
    /// Signing secret of the Connect webhook endpoint (account.updated and friends).
    #[arg(
        long,
        env = "STRIPE_CONNECT_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub stripe_connect_webhook_secret: Option<String>,
    /// Base URL of the Stripe API (a local double in tests).
    #[arg(long, env = "STRIPE_API_BASE", global = true)]
    pub stripe_api_base: Option<String>,
    /// `file:///path` or `s3://bucket`; default `file://$DATA_DIR/files`.
    #[arg(long, env = "STORAGE_URL", global = true)]
    pub storage_url: Option<String>,
    /// S3-compatible endpoint (MinIO, a local S3 server).
    #[arg(long, env = "S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true, global = true)]
    pub aws_access_key_id: Option<String>,
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    pub aws_secret_access_key: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub aws_region: String,
    /// Comma-separated SPA origins allowed by CORS; empty means same origin only.
    #[arg(long, env = "CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,
    /// Introspection on or off; default on in development, off in production.
    #[arg(long, env = "GRAPHQL_INTROSPECTION", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub graphql_introspection: Option<bool>,
    /// GraphiQL at GET /graphql; default on in development, off in production.
    #[arg(long, env = "GRAPHIQL", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub graphiql: Option<bool>,
    /// The reference web client at GET /; default on in development, off in production.
    #[arg(long, env = "WEB_APP", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub web_app: Option<bool>,
    /// `pretty` or `json`; default `json` in production, `pretty` in development.
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Allow an SQLite DATABASE_URL when APP_ENV=production (refused otherwise: one process,
    /// one file, no replicas).
    #[arg(
        long,
        env = "ALLOW_SQLITE_IN_PRODUCTION",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub allow_sqlite_in_production: bool,
    /// Lifetime of access tokens, in seconds.
    #[arg(
        long,
        env = "ACCESS_TOKEN_TTL_SECS",
        default_value_t = 900,
        global = true
    )]
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens, in days.
    #[arg(
        long,
        env = "REFRESH_TOKEN_TTL_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub refresh_token_ttl_days: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 256 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Seconds between runs of the order timers (expiry, release, auto-complete, lateness,
    /// ledger retries); 0 turns them off (tests run them by hand).
    #[arg(long, env = "JOBS_INTERVAL_SECS", default_value_t = 60, global = true)]
    pub jobs_interval_secs: u64,
    /// Report the SQL statements each operation ran in `extensions.sqlStatements` (a
    /// diagnostic for N+1 checks; exact only while one request runs at a time).
    #[arg(
        long,
        env = "SQL_STATEMENT_COUNT",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub sql_statement_count: bool,
    /// Events that may wait for one subscriber before it counts as lagging and its stream is
    /// closed (the client resumes with `after`).
    #[arg(long, env = "SUBSCRIBER_BUFFER", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536), global = true)]
    pub subscriber_buffer: u32,
    /// Seconds between server pings on a websocket.
    #[arg(long, env = "WS_PING_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub ws_ping_secs: u64,
    /// Query-cost points each user (each IP address when anonymous) may hold; an operation
    /// takes its cost, and one that finds too few is THROTTLED with the wait.
    #[arg(long, env = "QUERY_BUDGET", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1000..=100_000_000), global = true)]
    pub query_budget: u32,
    /// Query-cost points restored per second.
    #[arg(long, env = "QUERY_BUDGET_RESTORE_PER_SEC", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000_000), global = true)]
    pub query_budget_restore_per_sec: u32,
    /// `login` and `register` attempts one IP address may make per minute.
    #[arg(long, env = "AUTH_ATTEMPTS_PER_IP_PER_MIN", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub auth_attempts_per_ip_per_min: u32,
    /// Seconds a client has to send a request's headers (and, on a kept-alive connection,
    /// the next request) before the connection is closed.
    #[arg(long, env = "HTTP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub http_header_read_timeout_secs: u64,
    /// Seconds a client has to send a GraphQL request's body; past it the request is refused.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub http_body_timeout_secs: u64,
    /// Test-only fault hooks (`POST /__faults/…`); refused when APP_ENV=production.
    #[arg(
        long,
        env = "FAULT_INJECTION",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        hide = true,
        global = true
    )]
    pub fault_injection: bool,
    /// Deepest nesting of an operation's fields.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=64), global = true)]
    pub max_query_depth: u32,
    /// Most aliases in one operation.
    #[arg(long, env = "MAX_ALIASES", default_value_t = 15, value_parser = clap::value_parser!(u32).range(0..=1000), global = true)]
    pub max_aliases: u32,
    /// Most directives on one field.
    #[arg(long, env = "MAX_DIRECTIVES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100), global = true)]
    pub max_directives: u32,
    /// Most lexical tokens in a query text.
    #[arg(long, env = "MAX_TOKENS", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_tokens: u32,
    /// Most characters in a query text.
    #[arg(long, env = "MAX_QUERY_CHARS", default_value_t = 15_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000), global = true)]
    pub max_query_chars: u32,
    /// Most operations in one batched request.
    #[arg(long, env = "MAX_BATCH", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub max_batch: u32,
    /// Most root fields in one operation.
    #[arg(long, env = "MAX_ROOT_FIELDS", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub max_root_fields: u32,
    /// Largest `first`/`last` (1 to 100: the lists never return more than 100).
    #[arg(long, env = "MAX_PAGE_SIZE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100), global = true)]
    pub max_page_size: u32,
    /// Most items of a list in an argument or a variable.
    #[arg(long, env = "MAX_INPUT_LIST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000), global = true)]
    pub max_input_list: u32,
    /// Milliseconds an HTTP GraphQL request may run before it is abandoned (TIMEOUT).
    #[arg(long, env = "EXECUTION_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=600_000), global = true)]
    pub execution_timeout_ms: u64,
    /// A JSON file of the only operations this server runs (`{ "<sha256>": "<query>" }` or an
    /// Apollo persisted-query manifest); sent in full or by `persistedQuery` hash.
    #[arg(long, env = "PERSISTED_QUERIES_ALLOWLIST", global = true)]
    pub persisted_queries_allowlist: Option<PathBuf>,
    /// When set, `/metrics` answers only a scraper presenting it as `Authorization: Bearer …`.
    #[arg(long, env = "METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// `login` and `register` attempts on one email address per minute.
    #[arg(long, env = "AUTH_ATTEMPTS_PER_EMAIL_PER_MIN", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub auth_attempts_per_email_per_min: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Settings resolved: every default filled in and every secret wrapped.
#[derive(Clone, Debug)]
pub struct Settings {
    pub app_env: AppEnv,
    pub bind_addr: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub public_base_url: Option<String>,
    pub jwt_secret: SecretString,
    pub admin_emails: Vec<String>,
    pub platform_commission_bps: u32,
    pub auto_complete_days: u32,
    pub stripe: Option<StripeSettings>,
    pub storage_url: String,
    pub s3: S3Settings,
    pub cors_origins: Vec<String>,
    pub graphql_introspection: bool,
    pub graphiql: bool,
    pub web_app: bool,
    pub log_format: LogFormat,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub max_body_bytes: usize,
    pub sql_statement_count: bool,
    pub jobs_interval: Option<Duration>,
    pub subscriber_buffer: usize,
    pub ws_ping_interval: Duration,
    pub query_budget: u32,
    pub query_budget_restore_per_sec: u32,
    pub auth_attempts_per_ip_per_min: u32,
    pub auth_attempts_per_email_per_min: u32,
    pub fault_injection: bool,
    pub http_header_read_timeout: Duration,
    pub http_body_timeout: Duration,
    pub metrics_token: Option<SecretString>,
    pub persisted_queries_allowlist: Option<PathBuf>,
    pub limits: crate::graphql::limits::Limits,
}

#[derive(Clone, Debug)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    pub webhook_secret: Option<SecretString>,
    pub connect_webhook_secret: Option<SecretString>,
    pub api_base: Option<String>,
    /// Public: web clients load Stripe's Payment Element with it.
    pub publishable_key: Option<String>,
}

#[derive(Clone, Debug)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub access_key_id: Option<SecretString>,
    pub secret_access_key: Option<SecretString>,
    pub region: String,
}

impl RawSettings {
    /// The log format asked for, else JSON in production and the pretty one in development.
    pub fn effective_log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.app_env {
            AppEnv::Production => LogFormat::Json,
            AppEnv::Development => LogFormat::Pretty,
        })
    }
}

impl Settings {
    /// Resolves defaults that depend on other settings and loads or creates the dev JWT secret.
    pub fn resolve(raw: RawSettings) -> anyhow::Result<Settings> {
        let production = raw.app_env == AppEnv::Production;
        let log_format = raw.effective_log_format();
        if production && raw.fault_injection {
            bail!("FAULT_INJECTION is for tests: it is refused when APP_ENV=production");
        }
        let database_url = match raw.database_url.clone().filter(|u| !u.trim().is_empty()) {
            Some(url) => url,
            None => format!(
                "sqlite://{}?mode=rwc",
                raw.data_dir.join("marketplace.db").display()
            ),
        };
        if production && database_url.starts_with("sqlite:") && !raw.allow_sqlite_in_production {
            bail!(
                "APP_ENV=production needs a PostgreSQL DATABASE_URL; set \
                 ALLOW_SQLITE_IN_PRODUCTION=true to run on SQLite anyway"
            );
        }
        let jwt_secret = match raw.jwt_secret.filter(|s| !s.is_empty()) {
            Some(secret) => {
                if secret.len() < 32 {
                    bail!("JWT_SECRET must be at least 32 characters");
                }
                SecretString::from(secret)
            }
            None if production => bail!("JWT_SECRET is required when APP_ENV=production"),
            None => dev_jwt_secret(&raw.data_dir)?,
        };
        let stripe = raw
            .stripe_secret_key
            .filter(|k| !k.is_empty())
            .map(|key| StripeSettings {
                secret_key: SecretString::from(key),
                webhook_secret: raw.stripe_webhook_secret.map(SecretString::from),
                connect_webhook_secret: raw.stripe_connect_webhook_secret.map(SecretString::from),
                api_base: raw.stripe_api_base,
                publishable_key: raw.stripe_publishable_key.filter(|k| !k.is_empty()),
            });
        let storage_url = raw.storage_url.unwrap_or_else(|| {
            format!("file://{}", absolute(&raw.data_dir.join("files")).display())
        });
        Ok(Settings {
            app_env: raw.app_env,
            bind_addr: raw.bind_addr,
            data_dir: raw.data_dir,
            database_url,
            public_base_url: raw.public_base_url.filter(|u| !u.is_empty()),
            jwt_secret,
            admin_emails: split_list(&raw.admin_emails)
                .map(|e| e.to_lowercase())
                .collect(),
            platform_commission_bps: raw.platform_commission_bps,
            auto_complete_days: raw.auto_complete_days,
            stripe,
            storage_url,
            s3: S3Settings {
                endpoint: raw.s3_endpoint,
                access_key_id: raw.aws_access_key_id.map(SecretString::from),
                secret_access_key: raw.aws_secret_access_key.map(SecretString::from),
                region: raw.aws_region,
            },
            cors_origins: split_list(&raw.cors_origins).map(str::to_owned).collect(),
            graphql_introspection: raw.graphql_introspection.unwrap_or(!production),
            graphiql: raw.graphiql.unwrap_or(!production),
            web_app: raw.web_app.unwrap_or(!production),
            log_format,
            access_token_ttl: Duration::from_secs(raw.access_token_ttl_secs),
            refresh_token_ttl: Duration::from_secs(raw.refresh_token_ttl_days * 24 * 3600),
            max_body_bytes: raw.max_body_bytes,
            sql_statement_count: raw.sql_statement_count,
            jobs_interval: (raw.jobs_interval_secs > 0)
                .then(|| Duration::from_secs(raw.jobs_interval_secs)),
            subscriber_buffer: raw.subscriber_buffer as usize,
            ws_ping_interval: Duration::from_secs(raw.ws_ping_secs),
            query_budget: raw.query_budget,
            query_budget_restore_per_sec: raw.query_budget_restore_per_sec,
            auth_attempts_per_ip_per_min: raw.auth_attempts_per_ip_per_min,
            auth_attempts_per_email_per_min: raw.auth_attempts_per_email_per_min,
            fault_injection: raw.fault_injection,
            http_header_read_timeout: Duration::from_secs(raw.http_header_read_timeout_secs),
            http_body_timeout: Duration::from_secs(raw.http_body_timeout_secs),
            metrics_token: raw
                .metrics_token
                .filter(|t| !t.is_empty())
                .map(SecretString::from),
            limits: crate::graphql::limits::Limits {
                depth: raw.max_query_depth as usize,
                aliases: raw.max_aliases as usize,
                directives: raw.max_directives as usize,
                tokens: raw.max_tokens as usize,
                query_chars: raw.max_query_chars as usize,
                batch: raw.max_batch as usize,
                root_fields: raw.max_root_fields as usize,
                page_size: raw.max_page_size as usize,
                input_list: raw.max_input_list as usize,
                execution_timeout: Duration::from_millis(raw.execution_timeout_ms),
            },
            persisted_queries_allowlist: raw
                .persisted_queries_allowlist
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| absolute(&p)),
        })
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// In development a random secret is generated once into the data directory, so tokens survive
/// restarts without anyone having to invent a key.
fn dev_jwt_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join("jwt_secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(SecretString::from(existing));
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let secret = crate::auth::random_token(48);
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated a development secret; set JWT_SECRET in production"
    );
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: RawSettings,
    }

    fn resolve(args: &[&str]) -> anyhow::Result<Settings> {
        let dir = std::env::temp_dir().join("marketplace-config-test");
        let dir = dir.display().to_string();
        let mut all = vec!["marketplace", "--data-dir", dir.as_str()];
        all.extend_from_slice(args);
        let cli = Cli::try_parse_from(all)?;
        Settings::resolve(cli.settings)
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const PG: &str = "postgres://app@db/marketplace";

    #[test]
    fn production_requires_a_secret_and_postgres_and_turns_the_conveniences_off() {
        let prod = ["--app-env", "production"];
        assert!(
            resolve(&[&prod[..], &["--database-url", PG]].concat()).is_err(),
            "no JWT_SECRET"
        );
        let sqlite = resolve(&[&prod[..], &["--jwt-secret", SECRET]].concat());
        assert!(sqlite.is_err_and(|e| e.to_string().contains("PostgreSQL")));
        let allowed = resolve(
            &[
                &prod[..],
                &["--jwt-secret", SECRET, "--allow-sqlite-in-production"],
            ]
            .concat(),
        )
        .expect("SQLite when allowed");
        assert!(allowed.database_url.starts_with("sqlite:"));
        let s = resolve(&[&prod[..], &["--jwt-secret", SECRET, "--database-url", PG]].concat())
            .expect("production");
        assert!(!s.graphiql && !s.graphql_introspection);
        assert_eq!(s.log_format, LogFormat::Json);
        let pretty = resolve(
            &[
                &prod[..],
                &[
                    "--jwt-secret",
                    SECRET,
                    "--database-url",
                    PG,
                    "--log-format",
                    "pretty",
                ],
            ]
            .concat(),
        )
        .expect("asked for");
        assert_eq!(pretty.log_format, LogFormat::Pretty);
        assert!(resolve(
            &[
                &prod[..],
                &[
                    "--jwt-secret",
                    SECRET,
                    "--database-url",
                    PG,
                    "--fault-injection"
                ]
            ]
            .concat()
        )
        .is_err());
    }

    /// Issue 15: `SQL_STATEMENT_COUNT=1` made the server refuse to start (only `true`/`false`
    /// parsed). Every boolean setting takes the usual spellings, from the environment as from
    /// the command line (one value parser serves both); a bare flag is true.
    #[test]
    fn booleans_take_the_usual_spellings() {
        for (spelling, expected) in [
            ("1", true),
            ("yes", true),
            ("on", true),
            ("TRUE", true),
            ("0", false),
            ("no", false),
            ("off", false),
            ("false", false),
        ] {
            let s = resolve(&[
                "--jwt-secret",
                SECRET,
                &format!("--sql-statement-count={spelling}"),
                &format!("--graphiql={spelling}"),
                &format!("--fault-injection={spelling}"),
            ])
            .unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(
                (s.sql_statement_count, s.graphiql, s.fault_injection),
                (expected, expected, expected),
                "{spelling}"
            );
        }
        let bare = resolve(&["--jwt-secret", SECRET, "--sql-statement-count"]).expect("bare");
        assert!(bare.sql_statement_count);
        assert!(resolve(&["--jwt-secret", SECRET, "--sql-statement-count=maybe"]).is_err());
    }

    #[test]
    fn development_keeps_the_conveniences() {
        let s = resolve(&["--jwt-secret", SECRET]).expect("development");
        assert!(s.graphiql && s.graphql_introspection);
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert!(s.database_url.starts_with("sqlite:"));
    }
}
