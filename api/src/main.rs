//! `marketplace`: serve (default), migrate, schema.
use clap::{Parser, Subcommand, ValueEnum};
use migration::MigratorTrait;

use api::config::{RawSettings, Settings};
use api::db::Db;
use api::{telemetry, Application};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "marketplace",
    version,
    about = "The marketplace GraphQL API server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: RawSettings,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve,
    /// Apply or roll back migrations.
    Migrate {
        #[arg(value_enum, default_value = "up")]
        action: MigrateAction,
        /// How many migrations to apply or roll back (default: all for up, one for down).
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Print the GraphQL schema (SDL) to standard output.
    Schema,
    /// Fill the database with data to explore (`--demo`: a small believable marketplace).
    Seed {
        /// Seed the demo marketplace (idempotent).
        #[arg(long)]
        demo: bool,
        /// Bulk data for benchmarks: N providers, 50·N listings, N buyers, 5·N orders with
        /// their events, deliveries, ledger rows and reviews, N message threads, an invoice book
        /// per tenant.
        #[arg(long, value_name = "N")]
        scale: Option<usize>,
    },
    /// Administer accounts: `admin grant EMAIL` makes an existing account an admin.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Give ADMIN to the account registered with EMAIL.
    Grant { email: String },
}

#[derive(ValueEnum, Clone, Copy)]
enum MigrateAction {
    Up,
    Down,
    Status,
    /// Drop every table and apply all migrations again.
    Fresh,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        print!("{}", api::graphql::sdl());
        return Ok(());
    }
    telemetry::init(cli.settings.effective_log_format());
    let settings = Settings::resolve(cli.settings)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve | Command::Schema => {
            let app = Application::build(settings).await?;
            tracing::info!(url = %format!("http://{}/graphql", app.local_addr()), "GraphiQL");
            app.run_until_stopped().await?;
        }
        Command::Seed { demo, scale } => {
            if !demo && scale.is_none() {
                anyhow::bail!("say what to seed: marketplace seed --demo, or --scale N");
            }
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            if let Some(n) = scale {
                let report =
                    api::bulk_seed::scale(&db, n, settings.platform_commission_bps).await?;
                println!(
                    "Seeded {n} providers: {} rows in {:.1} s ({:.0} rows/s). Every account's password: {}",
                    report.rows,
                    report.seconds,
                    report.rows as f64 / report.seconds.max(0.001),
                    api::bulk_seed::PASSWORD
                );
                if !demo {
                    return Ok(());
                }
            }
            let gateway = api::payments::from_settings(&settings)?;
            api::seed::demo(api::state::AppState::new(settings, db, gateway)?).await?;
        }
        Command::Admin {
            action: AdminAction::Grant { email },
        } => {
            let db = Db::connect(&settings.database_url).await?;
            db.migrate().await?;
            let gateway = api::payments::from_settings(&settings)?;
            let state = api::state::AppState::new(settings, db, gateway)?;
            let user = api::services::accounts::grant_admin(&state, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("{} ({}) is an admin.", user.email, user.id);
        }
        Command::Migrate { action, steps } => {
            let db = Db::connect(&settings.database_url).await?;
            let conn = &db.writer;
            match action {
                MigrateAction::Up => migration::Migrator::up(conn, steps).await?,
                MigrateAction::Down => {
                    migration::Migrator::down(conn, Some(steps.unwrap_or(1))).await?
                }
                MigrateAction::Status => migration::Migrator::status(conn).await?,
                MigrateAction::Fresh => migration::Migrator::fresh(conn).await?,
            }
        }
    }
    Ok(())
}
