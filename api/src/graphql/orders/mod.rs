//! Orders in GraphQL: the `Order` type with its timeline, deliveries and available actions,
//! the viewer's orders, and one mutation per action of the state machine.
mod enums;
mod inputs;
mod resolvers;
mod types;

pub use enums::*;
pub use inputs::*;
pub use resolvers::*;
pub use types::*;
