//! `marketplace seed --demo`: a small believable marketplace to explore in GraphiQL. It goes
//! through the same services as the API, so everything it makes obeys the same rules.
//! Idempotent: a second run finds the demo admin and only prints the logins again.

use entity::users;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::domain::listing::{CoverageTier, ListingStatus, ListingTerms, PriceType};
use crate::domain::seller::{ProviderStatus, ProviderType};
use crate::error::ApiError;
use crate::services::accounts::{self, RegisterInput};
use crate::services::{listings, sellers, AuthUser, Viewer};
use crate::state::AppState;

pub const DEMO_PASSWORD: &str = "demo-password";
const ADMIN: &str = "admin@demo.test";
const BUYERS: [(&str, &str); 3] = [
    ("maya@demo.test", "Maya Writer"),
    ("theo@demo.test", "Theo Scribe"),
    ("lena@demo.test", "Lena Pup-Seeker"),
];

struct DemoProvider {
    email: &'static str,
    name: &'static str,
    kind: ProviderType,
    bio: &'static str,
    specialties: &'static [&'static str],
    city: &'static str,
    state: &'static str,
    status: ProviderStatus,
}

const PROVIDERS: [DemoProvider; 8] = [
    DemoProvider {
        email: "ava@demo.test",
        name: "Ava Reads Scripts",
        kind: ProviderType::ServiceProvider,
        bio: "Former studio reader; features and pilots.",
        specialties: &["Drama", "Thriller"],
        city: "Los Angeles",
        state: "CA",
        status: ProviderStatus::Active,
    },
    DemoProvider {
        email: "ben@demo.test",
        name: "Ben's Coverage Desk",
        kind: ProviderType::ServiceProvider,
        bio: "Competition-ready notes in a week.",
        specialties: &["Comedy", "Horror"],
        city: "New York",
        state: "NY",
        status: ProviderStatus::Active,
    },
    DemoProvider {
        email: "cleo@demo.test",
        name: "Cleo Edits",
        kind: ProviderType::ServiceProvider,
        bio: "Line edits and proofreading for screenplays.",
        specialties: &["Editing"],
        city: "Austin",
        state: "TX",
        status: ProviderStatus::Active,
    },
    DemoProvider {
        email: "dan@demo.test",
        name: "Dan Story Consulting",
        kind: ProviderType::ServiceProvider,
        bio: "Story structure sessions.",
        specialties: &["Structure", "Character"],
        city: "Chicago",
        state: "IL",
        status: ProviderStatus::Active,
    },
    DemoProvider {
        email: "eve@demo.test",
        name: "Evergreen Retrievers",
        kind: ProviderType::Breeder,
        bio: "Health-tested golden retrievers.",
        specialties: &["Golden Retriever"],
        city: "Boise",
        state: "ID",
        status: ProviderStatus::Active,
    },
    DemoProvider {
        email: "finn@demo.test",
        name: "Finn's Grooming Van",
        kind: ProviderType::ServiceProvider,
        bio: "Mobile grooming, all breeds.",
        specialties: &["Grooming"],
        city: "Portland",
        state: "OR",
        status: ProviderStatus::Active,
    },
    DemoProvider {
        email: "gia@demo.test",
        name: "Gia Trains Dogs",
        kind: ProviderType::ServiceProvider,
        bio: "Puppy classes and recall training.",
        specialties: &["Training"],
        city: "Denver",
        state: "CO",
        status: ProviderStatus::Suspended,
    },
    DemoProvider {
        email: "hal@demo.test",
        name: "Hal Pet Transport",
        kind: ProviderType::ServiceProvider,
        bio: "Climate-controlled pet transport.",
        specialties: &["Transport"],
        city: "Phoenix",
        state: "AZ",
        status: ProviderStatus::PendingVerification,
    },
];

/// (provider index, title, category, tier, price type, cents, turnaround, status)
type DemoListing = (
    usize,
    &'static str,
    &'static str,
    Option<CoverageTier>,
    PriceType,
    Option<i64>,
    Option<i32>,
    ListingStatus,
);

const LISTINGS: [DemoListing; 30] = [
    (
        0,
        "Feature screenplay coverage",
        "script_coverage",
        Some(CoverageTier::CompetitionReady),
        PriceType::Fixed,
        Some(15_000),
        Some(7),
        ListingStatus::Active,
    ),
    (
        0,
        "Pilot coverage",
        "script_coverage",
        Some(CoverageTier::EarlyDraft),
        PriceType::Fixed,
        Some(12_000),
        Some(5),
        ListingStatus::Active,
    ),
    (
        0,
        "Concept notes call",
        "consulting",
        None,
        PriceType::Hourly,
        Some(8_000),
        None,
        ListingStatus::Active,
    ),
    (
        0,
        "Rewrite pass notes",
        "script_coverage",
        Some(CoverageTier::PolishProofread),
        PriceType::Fixed,
        Some(20_000),
        Some(10),
        ListingStatus::Draft,
    ),
    (
        1,
        "Comedy feature coverage",
        "script_coverage",
        Some(CoverageTier::EarlyDraft),
        PriceType::Fixed,
        Some(9_900),
        Some(7),
        ListingStatus::Active,
    ),
    (
        1,
        "Horror short coverage",
        "script_coverage",
        Some(CoverageTier::ConceptNotes),
        PriceType::Fixed,
        Some(4_500),
        Some(3),
        ListingStatus::Active,
    ),
    (
        1,
        "Contest-ready deep dive",
        "script_coverage",
        Some(CoverageTier::CompetitionReady),
        PriceType::StartingAt,
        Some(25_000),
        Some(14),
        ListingStatus::Paused,
    ),
    (
        1,
        "Old coverage package",
        "script_coverage",
        None,
        PriceType::Fixed,
        Some(7_000),
        Some(7),
        ListingStatus::Archived,
    ),
    (
        2,
        "Screenplay proofread",
        "editing",
        None,
        PriceType::Fixed,
        Some(6_000),
        Some(4),
        ListingStatus::Active,
    ),
    (
        2,
        "Line edit per page",
        "editing",
        None,
        PriceType::StartingAt,
        Some(300),
        Some(10),
        ListingStatus::Active,
    ),
    (
        2,
        "Formatting cleanup",
        "editing",
        None,
        PriceType::Fixed,
        Some(3_500),
        Some(2),
        ListingStatus::Active,
    ),
    (
        2,
        "Rush proofread",
        "editing",
        None,
        PriceType::Fixed,
        Some(9_000),
        Some(1),
        ListingStatus::Draft,
    ),
    (
        3,
        "Story structure session",
        "consulting",
        None,
        PriceType::Hourly,
        Some(12_000),
        None,
        ListingStatus::Active,
    ),
    (
        3,
        "Character arc workshop",
        "consulting",
        None,
        PriceType::Daily,
        Some(60_000),
        None,
        ListingStatus::Active,
    ),
    (
        3,
        "Pitch deck review",
        "consulting",
        None,
        PriceType::Contact,
        None,
        Some(5),
        ListingStatus::Active,
    ),
    (
        3,
        "Series bible consult",
        "consulting",
        None,
        PriceType::Fixed,
        Some(45_000),
        Some(21),
        ListingStatus::Paused,
    ),
    (
        4,
        "Golden retriever puppy deposit",
        "breeding",
        None,
        PriceType::Fixed,
        Some(50_000),
        Some(60),
        ListingStatus::Active,
    ),
    (
        4,
        "Stud service",
        "breeding",
        None,
        PriceType::Contact,
        None,
        None,
        ListingStatus::Active,
    ),
    (
        4,
        "Retired adult rehoming",
        "breeding",
        None,
        PriceType::Fixed,
        Some(30_000),
        Some(30),
        ListingStatus::Draft,
    ),
    (
        4,
        "Spring litter waitlist",
        "breeding",
        None,
        PriceType::Fixed,
        Some(25_000),
        Some(90),
        ListingStatus::Archived,
    ),
    (
        5,
        "Full groom, small dog",
        "grooming",
        None,
        PriceType::Fixed,
        Some(7_500),
        Some(1),
        ListingStatus::Active,
    ),
    (
        5,
        "Full groom, large dog",
        "grooming",
        None,
        PriceType::Fixed,
        Some(11_000),
        Some(1),
        ListingStatus::Active,
    ),
    (
        5,
        "Nail trim visit",
        "grooming",
        None,
        PriceType::Fixed,
        Some(2_500),
        Some(1),
        ListingStatus::Active,
    ),
    (
        5,
        "De-shedding treatment",
        "grooming",
        None,
        PriceType::StartingAt,
        Some(6_000),
        Some(2),
        ListingStatus::Paused,
    ),
    (
        6,
        "Puppy class (6 weeks)",
        "training",
        None,
        PriceType::Fixed,
        Some(24_000),
        Some(42),
        ListingStatus::Active,
    ),
    (
        6,
        "Private recall session",
        "training",
        None,
        PriceType::Hourly,
        Some(9_000),
        None,
        ListingStatus::Active,
    ),
    (
        6,
        "Board and train",
        "training",
        None,
        PriceType::Contact,
        None,
        None,
        ListingStatus::Draft,
    ),
    (
        7,
        "Regional pet transport",
        "transport",
        None,
        PriceType::StartingAt,
        Some(35_000),
        Some(3),
        ListingStatus::Active,
    ),
    (
        7,
        "Airport pickup",
        "transport",
        None,
        PriceType::Fixed,
        Some(15_000),
        Some(1),
        ListingStatus::Active,
    ),
    (
        7,
        "Custom relocation quote",
        "other",
        None,
        PriceType::Contact,
        None,
        None,
        ListingStatus::Draft,
    ),
];

fn err(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("seeding failed: {e:?}")
}

async fn viewer_for(state: &AppState, email: &str) -> anyhow::Result<Viewer> {
    let session = accounts::login(state, email, DEMO_PASSWORD)
        .await
        .map_err(err)?;
    Ok(Viewer::User(AuthUser {
        id: session.user.id.clone(),
        roles: accounts::stored_roles(&session.user).map_err(err)?,
    }))
}

async fn register(state: &AppState, email: &str, name: &str) -> anyhow::Result<Viewer> {
    accounts::register(
        state,
        RegisterInput {
            email,
            password: DEMO_PASSWORD,
            display_name: name,
        },
    )
    .await
    .map_err(err)?;
    viewer_for(state, email).await
}

/// Seeds the demo marketplace into the database of `state`, once.
pub async fn demo(state: AppState) -> anyhow::Result<()> {
    let seeded = users::Entity::find()
        .filter(users::Column::Email.eq(ADMIN))
        .one(&state.db.reader)
        .await?
        .is_some();
    if seeded {
        println!("The demo marketplace is already there.");
    } else {
        register(&state, ADMIN, "Demo Admin").await?;
        crate::services::accounts::grant_admin(&state, ADMIN)
            .await
            .map_err(|e| anyhow::anyhow!("granting the demo admin: {e:?}"))?;
        let admin = viewer_for(&state, ADMIN).await?;
        for (email, name) in BUYERS {
            register(&state, email, name).await?;
        }
        let mut provider_ids = Vec::new();
        let mut owners = Vec::new();
        for p in &PROVIDERS {
            let viewer = register(&state, p.email, p.name).await?;
            let specialties: Vec<String> = p.specialties.iter().map(|s| (*s).to_owned()).collect();
            let created = sellers::create_provider(
                &state,
                &viewer,
                sellers::ProviderInput {
                    provider_type: p.kind,
                    display_name: p.name,
                    bio: p.bio,
                    specialties: &specialties,
                    city: Some(p.city),
                    state: Some(p.state),
                    tenant_id: None,
                },
            )
            .await
            .map_err(err)?;
            let id = created.provider.id.clone();
            if p.status != ProviderStatus::PendingVerification {
                sellers::set_provider_status(
                    &state,
                    &admin,
                    &id,
                    ProviderStatus::Active,
                    "demo: verified",
                )
                .await
                .map_err(err)?;
            }
            if p.status == ProviderStatus::Suspended {
                sellers::set_provider_status(
                    &state,
                    &admin,
                    &id,
                    ProviderStatus::Suspended,
                    "demo: suspended",
                )
                .await
                .map_err(err)?;
            }
            provider_ids.push(id);
            owners.push(viewer);
        }
        for (index, title, category, tier, price_type, cents, turnaround, status) in LISTINGS {
            let p = &PROVIDERS[index];
            let terms = ListingTerms {
                title: title.to_owned(),
                description: format!("{title} by {}. {}", p.name, p.bio),
                category: category.to_owned(),
                tier,
                price_type,
                price_cents: cents,
                currency: "USD".to_owned(),
                turnaround_days: turnaround,
                max_pages: (category == "script_coverage").then_some(120),
                revisions_included: i32::from(category == "script_coverage"),
                city: Some(p.city.to_owned()),
                state: Some(p.state.to_owned()),
            };
            let owner = &owners[index];
            let publish = status != ListingStatus::Draft;
            let listing =
                listings::create_listing(&state, owner, &provider_ids[index], terms, publish)
                    .await
                    .map_err(err)?;
            if matches!(status, ListingStatus::Paused | ListingStatus::Archived) {
                listings::set_listing_status(&state, owner, &listing.id, status)
                    .await
                    .map_err(err)?;
            }
        }
        println!("Seeded the demo marketplace: 1 admin, 3 buyers, 8 providers, 30 listings.");
    }
    println!("Every demo account's password is \"{DEMO_PASSWORD}\".");
    println!("  admin:     {ADMIN}");
    for (email, _) in BUYERS {
        println!("  buyer:     {email}");
    }
    for p in &PROVIDERS {
        println!("  provider:  {} ({}, {:?})", p.email, p.name, p.status);
    }
    Ok(())
}
